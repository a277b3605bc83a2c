// Plays a file's HLS ladder. The file's page renders <video data-hls="…/index.m3u8"> with its
// quality menu (<select data-quality-for="ID of the video">); this module attaches to every
// such video, now or later (the page navigates without reloading). hls.js, loaded only when a
// video of this kind is on the page, plays it where the browser has Media Source Extensions,
// with automatic switching and the menu's choice; elsewhere (Safari on iOS) the browser's own
// HLS plays it and picks the quality itself. If the ladder cannot be played at all, the video
// falls back to the file as uploaded (data-original).
//
// Every address the playlists name is a stable link of ours that redirects to a fresh
// presigned GET, so a video may stay open and seek for hours.

const HLS_SCRIPT = '/vendor/hls.light.min.js';
let hlsLoading = null;

function loadHls() {
  hlsLoading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = HLS_SCRIPT;
    script.onload = () => resolve(window.Hls);
    script.onerror = () => reject(new Error(`${HLS_SCRIPT} did not load`));
    document.head.append(script);
  });
  return hlsLoading;
}

// A rung is named by its shorter side: a portrait phone video's 1080 × 1920 is 1080p.
function lines(level) {
  return Math.min(level.width || level.height, level.height);
}

function label(level) {
  return `${lines(level)}p`;
}

function fillMenu(menu, hls) {
  if (!menu) return;
  const auto = new Option('Auto', '-1');
  const rungs = hls.levels
    .map((level, index) => ({ level, index }))
    .sort((a, b) => lines(b.level) - lines(a.level))
    .map(({ level, index }) => new Option(label(level), String(index)));
  menu.replaceChildren(auto, ...rungs);
  menu.value = String(hls.autoLevelEnabled ? -1 : hls.currentLevel);
  menu.disabled = false;
  menu.hidden = false;
  menu.onchange = () => {
    // -1 is automatic switching; a rung is held until the menu changes again.
    hls.currentLevel = Number(menu.value);
  };
}

function fallBack(video, menu) {
  if (menu) menu.hidden = true;
  const at = video.currentTime;
  video.removeAttribute('data-hls');
  video.src = video.dataset.original;
  if (at > 0) video.addEventListener('loadedmetadata', () => (video.currentTime = at), { once: true });
}

// The page's own script must have taken the server's markup over first: it owns the menu's
// element, and a change made before it hydrates would not be the markup it expects.
function hydrated() {
  return document.querySelector('main[data-hydrated="true"]') !== null;
}

async function attach(video) {
  const source = video.dataset.hls;
  // A new rung (data-rungs) loads the ladder again from where the video is.
  const ladder = `${source} ${video.dataset.rungs ?? ''}`;
  if (!source || video.dataset.attached === ladder || !hydrated()) return;
  video.dataset.attached = ladder;
  const resume = { at: video.currentTime, playing: !video.paused };
  const menu = video.dataset.quality ? document.getElementById(video.dataset.quality) : null;
  let Hls = null;
  try {
    Hls = await loadHls();
  } catch {
    Hls = null;
  }
  if (Hls && Hls.isSupported()) {
    video._hoistHls?.destroy();
    // fMP4 needs no transmuxing: no worker (and no blob: worker for the page's policy).
    const hls = new Hls({ enableWorker: false, capLevelToPlayerSize: false, startPosition: resume.at > 0 ? resume.at : -1 });
    video._hoistHls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, () => fillMenu(menu, hls));
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
      const level = hls.levels[data.level];
      video.dataset.level = level ? String(lines(level)) : '';
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        hls.startLoad();
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else {
        hls.destroy();
        fallBack(video, menu);
      }
    });
    hls.loadSource(source);
    hls.attachMedia(video);
    if (resume.playing) hls.once(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    if (menu) menu.hidden = true;
    video.src = source;
  } else {
    fallBack(video, menu);
  }
}

function scan(root) {
  root.querySelectorAll?.('video[data-hls]').forEach(attach);
}

new MutationObserver((changes) => {
  for (const change of changes) {
    if (change.type === 'attributes') {
      if (change.attributeName === 'data-hydrated') scan(document);
      else if (change.target.matches?.('video[data-hls]')) attach(change.target);
    } else {
      change.addedNodes.forEach((node) => {
        if (node.nodeType !== 1) return;
        if (node.matches('video[data-hls]')) attach(node);
        scan(node);
      });
    }
  }
}).observe(document.documentElement, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-hls', 'data-rungs', 'data-hydrated'] });
scan(document);
