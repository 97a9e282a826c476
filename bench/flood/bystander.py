#!/usr/bin/env python3
# A bystander during a flood: juliet and romeo log in (STARTTLS, PLAIN, bind) on 127.0.0.1:25222 and exchange a message.
import socket, ssl, base64, sys, time, re
def login(user, pw, res, port=25222):
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    hdr = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"
    def until(sock, pat):
        buf = b''
        while not re.search(pat, buf):
            d = sock.recv(65536)
            if not d: raise Exception('closed: ' + buf.decode(errors='replace')[-300:])
            buf += d
        return buf
    s.sendall(hdr.encode()); until(s, b'</stream:features>')
    s.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"); until(s, b'proceed')
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(s, server_hostname='localhost')
    s.sendall(hdr.encode()); until(s, b'</stream:features>')
    s.sendall(("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>" % base64.b64encode(b'\0' + user.encode() + b'\0' + pw.encode()).decode()).encode()); until(s, b'success')
    s.sendall(hdr.encode()); until(s, b'</stream:features>')
    s.sendall(("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>%s</resource></bind></iq>" % res).encode()); until(s, b'</iq>')
    return s, until
if __name__ == '__main__':
    t = time.time()
    try:
        j, until = login('juliet', 'pw1', 'b'); r, _ = login('romeo', 'pw2', 'g')
        j.sendall(b"<message to='romeo@localhost/g' type='chat'><body>during the flood</body></message>")
        until(r, b'during the flood')
        print('bystander: juliet and romeo logged in and exchanged a message in %.2f s' % (time.time() - t))
    except Exception as e:
        print('bystander FAILED after %.2f s: %s' % (time.time() - t, e))
