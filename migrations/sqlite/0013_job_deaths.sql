-- How many times a job's run ended with its runner dead: a decoder the kernel killed, or a
-- worker process that stopped renewing the lease (killed, crashed, lost its machine). Two
-- deaths fail the job for good, so one file cannot keep taking processes down. A clean
-- shutdown hands its jobs back without counting one.
ALTER TABLE jobs ADD COLUMN deaths INTEGER NOT NULL DEFAULT 0;
