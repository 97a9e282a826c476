#!/usr/bin/env python3
# One authenticated client that stops reading its answers (docs/security.md, issue 19). Not a test: run by hand,
# through bench/flood/unread.sh. Usage: unread.py SERVER_PID [SECONDS]
# juliet grows her roster with roster sets until the server refuses one (or 30,000 are accepted) and stores a 120 KB
# vCard; then she stops reading and, for SECONDS, writes roster gets and vCard gets as fast as the server takes them.
# Meanwhile the server's RSS is sampled every second and romeo pings the server every 0.2 s (latency percentiles).
# Then juliet's connection is dropped and the RSS is sampled for 10 s more.
import re, ssl, statistics, sys, threading, time
from bystander import login

pid = int(sys.argv[1]); seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 40

def rss_mb():
    with open('/proc/%d/status' % pid) as f:
        return int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1)) / 1024

j, until = login('juliet', 'pw1', 'unread')
# The roster: sets in batches of 500, each batch's answers read before the next.
accepted = refused = 0
while accepted < 30000 and refused == 0:
    batch = ''.join("<iq type='set' id='s%d'><query xmlns='jabber:iq:roster'><item jid='contact%d@example.org' name='Contact number %d'><group>Friends</group></item></query></iq>" % (i, i, i)
                    for i in range(accepted, accepted + 500))
    j.sendall(batch.encode())
    buf = b''
    while buf.count(b"id='s") < 500 and buf.count(b'id="s') < 500:
        buf += j.recv(1 << 20)
    accepted += len(re.findall(rb"type=['\"]result['\"]", buf))
    refused += buf.count(b'not-allowed')
print('roster sets accepted %d, refused %d (first refusal ends the growth)' % (accepted, refused))
j.sendall(("<iq type='set' id='vc'><vCard xmlns='vcard-temp'><DESC>%s</DESC></vCard></iq>" % ('x' * 120000)).encode())
until(j, b"id=['\"]vc['\"]")

r, runtil = login('romeo', 'pw2', 'bystander')
stop = False
latencies = []
def bystander():
    n = 0
    while not stop:
        n += 1
        t = time.time()
        r.sendall(("<iq type='get' id='p%d' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>" % n).encode())
        runtil(r, ("id=['\"]p%d['\"]" % n).encode())
        latencies.append((time.time() - t) * 1000)
        time.sleep(0.2)
threading.Thread(target=bystander, daemon=True).start()

start_rss = rss_mb()
j.setblocking(False)
sent = 0; gets = 0
req = "<iq type='get' id='g%d'><query xmlns='jabber:iq:roster'/></iq><iq type='get' id='v%d' to='juliet@localhost'><vCard xmlns='vcard-temp'/></iq>"
pending = b''
t0 = time.time(); next_sample = t0 + 1; samples = []
while time.time() - t0 < seconds:
    if not pending:
        pending = (req % (gets, gets)).encode(); gets += 1
    try:
        k = j.send(pending); sent += k; pending = pending[k:]
    except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
        time.sleep(0.01)  # the server is not reading: back-pressure
    if time.time() >= next_sample:
        samples.append(rss_mb()); next_sample += 1
print('juliet wrote %d request pairs (%d KB) in %d s without reading; the server took them at its pace' % (gets, sent // 1024, seconds))
print('server RSS: before %.0f MB, max during %.0f MB, at the end %.0f MB; per second: %s' % (start_rss, max(samples), samples[-1], ' '.join('%.0f' % s for s in samples)))
j.close()
after = []
for i in range(10):
    time.sleep(1); after.append(rss_mb())
stop = True
lat = sorted(latencies)
print('after juliet left: RSS %s MB' % ' '.join('%.0f' % s for s in after))
print('bystander pings: %d, p50 %.1f ms, p95 %.1f ms, max %.1f ms' % (len(lat), statistics.median(lat), lat[int(len(lat) * 0.95) - 1], lat[-1]))
