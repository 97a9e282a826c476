#!/usr/bin/env python3
# Opens COUNT silent TCP connections from SOURCE to 127.0.0.1:PORT, holds each HOLD seconds, and reports what the server did.
# usage: flood.py SOURCE COUNT PORT HOLD
import asyncio, sys, time, collections
src, count, port, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
stats = collections.Counter()
conns = []
async def one(sem):
    async with sem:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection('127.0.0.1', port, local_addr=(src, 0)), 10)
        except Exception as e:
            stats['connect-failed:' + type(e).__name__] += 1; return
    stats['connected'] += 1
    try:
        data = await asyncio.wait_for(r.read(2048), hold)
        if b'resource-constraint' in data: stats['refused resource-constraint'] += 1
        elif b'policy-violation' in data: stats['refused policy-violation'] += 1
        elif data == b'': stats['closed without data'] += 1
        else: stats['other data'] += 1
    except asyncio.TimeoutError:
        stats['still open (admitted, silent)'] += 1
    except Exception as e:
        stats['error:' + type(e).__name__] += 1
    conns.append(w)
async def main():
    sem = asyncio.Semaphore(1000)
    t = time.time()
    await asyncio.gather(*(one(sem) for _ in range(count)))
    print(src, dict(stats), 'in %.1f s' % (time.time() - t), flush=True)
    for w in conns: w.close()
asyncio.run(main())
