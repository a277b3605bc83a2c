"""One Markdown row per run of bench/load.sh, from its output, as docs/benchmarks.md shows them:
server-function calls/s (the six Hoist calls, not the PUT), p50 / p99 per call, errors, peak RSS,
each party's CPU seconds and Hoist's CPU per call. The commit each run names goes to stderr.

    python3 bench/load_table.py LOG [paced]
"""
import re,sys
def parse(path, paced=False):
    txt=open(path).read()
    blocks=re.split(r'==> ', txt)[1:]
    out=[]
    for b in blocks:
        m=re.match(r'(\d+) clients, (\d+) instance\(s\), (\w+), (\d+)s', b)
        if not m: continue
        clients,inst,db,_=m.groups()
        m2=re.search(r'clients \([^)]*\), \d+ instance\(s\), (\d+) s, (\d+) cycles', b)
        if not m2: continue
        secs,cycles=map(int,m2.groups())
        rows={}
        for line in b.splitlines():
            r=re.match(r'\| ([^|]+) \| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \|',line)
            if r:
                rows[r.group(1).strip()]=r.groups()
        m3=re.search(r'Server peak RSS: ([^;]+); CPU s during the run: Hoist ([\d.]+), Garage ([\d.]+), PostgreSQL ([\d.]+), load generator ([\d.]+); commit (\w+)',b)
        rss,h,g,p,l,commit=m3.groups()
        calls=sum(int(v[2]) for k,v in rows.items() if 'PUT' not in k)
        ncalls=cycles*7
        errs=sum(int(v[6]) for v in rows.values())
        def pp(k): v=rows[k]; return f"{float(v[3]):.0f} / {float(v[4]):.0f}"
        keys=['start_uploads (multipart)','sign_parts (batch of 8)','abort_upload','start_uploads (one part)','complete_uploads','list_uploads']
        dbn={'sqlite':'SQLite','postgres':'PostgreSQL'}[db]
        pcpu='–' if db=='sqlite' else p
        rss=' + '.join(rss.replace(' MiB','').split())+' MiB'
        cells=[dbn]+([] if paced else [clients])+[inst,str(calls)]+[pp(k) for k in keys]+[str(errs),rss,f"{h} / {g} / {pcpu} / {l}",f"{float(h)/ncalls*1000:.1f} ms"]
        out.append('| '+' | '.join(cells)+' |')
        print(commit, file=sys.stderr)
    return out
for line in parse(sys.argv[1], len(sys.argv)>2): print(line)
