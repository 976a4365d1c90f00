// The report's prose: the run line (when, how long, load, the command) and the
// "How this was measured" notes, worded from the run's own figures. Pure
// functions; orchestrator process, main thread.
import os from 'node:os';
import { SERVER_CACHE_TEXT } from './cache.js';
import type { ProxyCost } from './calibrate.js';
import type { BenchOptions } from './options.js';

export interface RunFacts {
  started: number;
  durationS: number;
  loadStart: number;
  cores: number;
  args: string[];
}

export function runLine(opts: BenchOptions, f: RunFacts): string {
  return `Run: ${new Date(f.started).toISOString().slice(0, 16).replace('T', ' ')} UTC, ${(f.durationS / 60).toFixed(1)} min` +
    `${opts.quick ? ' (--quick)' : ''}; ${opts.reps} repetition${opts.reps > 1 ? 's' : ''} of every cell, medians with (min–max); ` +
    `${SERVER_CACHE_TEXT[opts.serverCache]} before every cell; ` +
    `load average ${f.loadStart.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end (${f.cores} cores; above that, other work shared the machine); ` +
    `\`npm run bench${f.args.length ? ' -- ' + f.args.join(' ') : ''}\`.`;
}

/** The notes every report carries, before the run's own (seeding, cache failures). */
export function methodNotes(proxyCost: ProxyCost | undefined): string[] {
  return [
    'Every measurement is a fresh process (bench/cell.ts, or the C program). Before each loopback cell, the object\'s files in MinIO\'s data folder are evicted from the page cache (`--server-cache drop-all` drops the whole cache instead), so the server reads from disk alike for every system; on an S3 profile they are kept in the page cache instead, since the profile\'s first byte stands for S3\'s own server time and MinIO\'s disk would add to it; FUSE peers get a fresh mount (rclone a fresh cache folder), mounted before the clock starts; nothing is cached in any client.',
    'Before its clock starts, each process opens a small warm-up object with the same system (s3mmap maps it, the SDK peers GET it, FUSE peers read it through the mount), so loading code and first-use setup are not timed.',
    'Wall time runs from opening the object (mapObject, GetObject, HEAD, open(2)) to the last byte the workload reads; the in-memory Buffer, the C ceiling and the fault-service cells start the clock after their data is in memory (the local file of the mapFile cells is read into the page cache first).',
    'Bytes fetched and GETs are counted at a proxy in front of MinIO that every system talks through (the FUSE peers too); they cover the measured phase only. The same proxy lays the network profile over every response (see Network profiles); a repetition draws the same sequence of first-byte delays for every system, started over as the clock starts (warm-ups make one to three requests, depending on the system).' +
      (proxyCost ? ` The proxy costs time per request: a 64 KiB GET took ${proxyCost.direct.toFixed(1)} ms (p50) straight to MinIO and ${proxyCost.proxied.toFixed(1)} ms through the proxy in this run, so systems that make many small requests pay it most.` : ''),
    'Random from 4 threads (random4): the 1,000 reads of "random", dealt round-robin to 4 worker threads of the cell process that read at the same time; the threads are started and warmed up before the clock. s3mmap maps once and each thread reads its own attach()ed view of that one mapping; the ranged reader opens a client per thread; FUSE peers open the file once per thread. The same reads as single-thread random, so its rate ratio is the ratio of wall times.',
    'Parquet: hyparquet reads through an AsyncBuffer whose slice(start, end) names each range it wants, as it would a ranged GET; the ranged reader GETs that range, FUSE peers read it from the mounted file, and s3mmap is told it with mapping.load(start, end - start) (which fetches it whole, spread over its connections) and then reads it through the Buffer, as an AsyncBuffer over a mapping would.',
    'Arrow: an IPC file of 8 record batches of 8 Int32 columns; the query reads one column of every batch. Where the system holds the object as one Buffer (s3mmap\'s mapping, the downloads, memory), apache-arrow\'s tableFromIPC reads it zero-copy and only the pages of what is decoded are touched; the ranged reader and the FUSE peers read what a selective reader would: the footer, each batch\'s metadata, and the column\'s data buffer.',
    'Budget: 3 threads of the cell process read random 8-byte words of one 16 MiB mapping under residentBudget \'2m\' for a fixed time (s3mmap\'s default readahead against readahead: 0); the first 100 reads of each thread make the checksum, and every read is compared with the object generated in the thread before the clock. Reads per second and evictions per read are the figures.',
    'Processes (procs4): 4 processes forked by the cell, each warmed up before the clock, open the object themselves and read it at the same time (the scan, or the same 1,000 random reads each starting a quarter further along); see that section for how the memory they hold is measured. They run on the first network profile of the run only: memory and S3 bytes do not depend on it.',
    'Options a build may lack (fill: \'off\', shared: false) are passed to mapObject() as they are; a build without them ignores them, and the report says where a figure (a fill, a shared region) was not there to read.',
    'Time to first byte ("first byte" in the map tables) runs from the start of opening (mapObject(), HEAD, open(2)) to the first byte read in hand; for s3mmap that is one GET, which brings the first chunk along with the pin.',
    'The parallel download runs with 8, 16 and 32 parts of 8 MiB in flight on the sequential and crossover workloads (8 elsewhere); the best of them is the one the targets and the crossover compare with.',
    'Left out to keep the default run short: the warm re-read for "ranged GET per read" (it keeps no cache, so a re-read costs what the cold read cost); time to map for "GetObject → Buffer" (like the parallel download it must fetch the whole object first, only slower), and for the parallel download on map objects larger than the scan object (its time is the download: see the sequential table); random4 and the crossover for "GetObject → Buffer", and random4 for the downloads and the in-memory Buffer (a download\'s cost does not depend on how many threads read it afterwards); the budget and processes workloads for the downloads and the ranged reader (they hold one private copy or none, whatever the budget or the number of readers).',
    'Checksums: every read byte is folded into a checksum that must equal the one computed from the seeded object; a mismatch fails the bench.',
    'Peak RSS is VmHWM of the measuring process; for FUSE peers the daemon\'s VmHWM is added after "+ daemon". Fault p50 / p99 is s3mmap\'s fault service time (mapping.stats()), or the C handler\'s.',
  ];
}
