"""A small authoritative DNS server for tests, stdlib only, on 127.0.0.1.

It answers from zone data in the form of the SPF council's test suite
(rfc7208-tests.yml):

    {"example.com": [{"MX": [10, "mx.example.com"]}, {"A": "192.0.2.1"},
                     {"TXT": "v=spf1 -all"}, {"SPF": "v=spf1 -all"}],
     "slow.example.com": ["TIMEOUT"],
     "alias.example.com": [{"CNAME": "example.com"}]}

Types: A, AAAA, MX ([pref, host]; host "." is a null MX), TXT and SPF (a
string or a list of character-strings), PTR, CNAME. "TIMEOUT" makes every
query for that name go unanswered; "SERVFAIL" and "REFUSED" answer with
that RCODE. A name listed with no records exists (NODATA); any other name
is NXDOMAIN. Like the suite's reference driver, SPF (type 99) records are
also served as TXT when the name has no TXT record of its own. UDP answers
over 512 octets are truncated (TC) and the full answer is served over TCP
on the same port. Runs in daemon threads inside the test process.
"""

import ipaddress
import socket
import socketserver
import struct
import threading

T_A, T_NS, T_CNAME, T_PTR, T_MX, T_TXT, T_AAAA, T_SPF = 1, 2, 5, 12, 15, 16, 28, 99
TYPES = {"A": T_A, "CNAME": T_CNAME, "PTR": T_PTR, "MX": T_MX, "TXT": T_TXT,
    "AAAA": T_AAAA, "SPF": T_SPF}


def encode_name(name):
	name = name.rstrip(".")
	out = b""
	if name:
		for label in name.split("."):
			b = label.encode("utf-8")
			if len(b) > 63 or not b:
				raise ValueError("bad label in %r" % name)
			out += bytes([len(b)]) + b
	return out + b"\0"


def decode_name(msg, off):
	labels = []
	jumps = 0
	end = None
	while True:
		n = msg[off]
		if n & 0xC0 == 0xC0:
			if end is None:
				end = off + 2
			off = ((n & 0x3F) << 8) | msg[off + 1]
			jumps += 1
			if jumps > 20:
				raise ValueError("loop")
			continue
		off += 1
		if n == 0:
			break
		labels.append(msg[off:off + n].decode("latin-1"))
		off += n
	return ".".join(labels), (end if end is not None else off)


def txt_strings(value):
	if isinstance(value, (list, tuple)):
		parts = [str(v) for v in value]
	else:
		parts = [str(value)]
	out = []
	for p in parts:
		b = p.encode("utf-8")
		if not b:
			out.append(b"")
		while b:
			out.append(b[:255])
			b = b[255:]
	return b"".join(bytes([len(s)]) + s for s in out)


def rdata(rtype, value):
	if rtype == T_A:
		return ipaddress.IPv4Address(value).packed
	if rtype == T_AAAA:
		return ipaddress.IPv6Address(value).packed
	if rtype == T_MX:
		pref, host = value
		return struct.pack("!H", int(pref)) + encode_name(host)
	if rtype in (T_PTR, T_CNAME):
		return encode_name(value)
	return txt_strings(value)


class Zone:
	def __init__(self, data=None):
		self.names = {}		# lower name -> list of (type, value) or a string
		if data:
			self.load(data)

	def load(self, data):
		for name, recs in data.items():
			key = name.lower().rstrip(".")
			rrs = self.names.setdefault(key, [])
			for r in recs or []:
				if isinstance(r, str):
					rrs.append((r, None))
					continue
				for t, v in r.items():
					rrs.append((t, v))
		# SPF records are TXT too, unless the name has TXT of its own.
		for key, rrs in self.names.items():
			if not any(t == "TXT" for t, _ in rrs):
				rrs.extend(("TXT", v) for t, v in list(rrs) if t == "SPF")

	def lookup(self, qname, qtype):
		"""(rcode, [(name, type, rdata)]) or None for no answer at all."""
		name = qname.lower().rstrip(".")
		answers = []
		for _ in range(8):
			rrs = self.names.get(name)
			if rrs is None:
				return (3 if not answers else 0), answers
			flags = [t for t, _ in rrs if t in ("TIMEOUT", "SERVFAIL", "REFUSED")]
			have = [v for t, v in rrs if TYPES.get(t) == qtype and v != "NONE"]
			if "TIMEOUT" in flags and not have:
				return None
			if "SERVFAIL" in flags:
				return 2, []
			if "REFUSED" in flags:
				return 5, []
			cname = [v for t, v in rrs if t == "CNAME"]
			if cname and qtype != T_CNAME:
				answers.append((name, T_CNAME, rdata(T_CNAME, cname[0])))
				name = cname[0].lower().rstrip(".")
				continue
			for v in have:
				answers.append((name, qtype, rdata(qtype, v)))
			return 0, answers
		return 2, answers


def build_reply(query, zone, limit=None, negative_ttl=None):
	"""The reply bytes for one query message, or None to stay silent.
	With negative_ttl, NXDOMAIN and empty answers carry an SOA record in
	the authority section with that TTL and MINIMUM (RFC 2308), as real
	authoritative servers send."""
	if len(query) < 12:
		return None
	qid, flags, qd = struct.unpack("!HHH", query[:6])
	if qd != 1 or flags & 0x8000:
		return None
	qname, off = decode_name(query, 12)
	qtype, qclass = struct.unpack("!HH", query[off:off + 4])
	question = query[12:off + 4]
	res = zone.lookup(qname, qtype)
	if res is None:
		return None
	rcode, answers = res
	body = b""
	for name, t, rd in answers:
		body += encode_name(name) + struct.pack("!HHIH", t, 1, 60, len(rd)) + rd
	nscount = 0
	if negative_ttl is not None and rcode in (0, 3) and not answers:
		soa = (b"\xc0\x0c" * 2 + struct.pack("!IIIII", 1, 3600, 600,
		    86400, negative_ttl))
		body += b"\xc0\x0c" + struct.pack("!HHIH", 6, 1, negative_ttl,
		    len(soa)) + soa
		nscount = 1
	rflags = 0x8000 | 0x0400 | (flags & 0x0100) | rcode	# QR AA RD
	msg = struct.pack("!HHHHHH", qid, rflags, 1, len(answers), nscount,
	    0) + question + body
	if limit is not None and len(msg) > limit:
		rflags |= 0x0200	# TC: ask again over TCP (RFC 1035 4.2.1)
		msg = struct.pack("!HHHHHH", qid, rflags, 1, 0, 0, 0) + question
	return msg


class FakeDns:
	"""fake = FakeDns(zonedata).start(); fake.port; fake.set_zone(...);
	fake.queries (list of (name, type)); fake.stop(). negative_ttl: see
	build_reply()."""

	def __init__(self, data=None, negative_ttl=None):
		self.zone = Zone(data)
		self.negative_ttl = negative_ttl
		self.queries = []
		self.lock = threading.Lock()
		self.udp = None
		self.tcp = None
		self.port = None

	def set_zone(self, data):
		with self.lock:
			self.zone = Zone(data)
			self.queries = []

	def _answer(self, data, limit):
		with self.lock:
			zone = self.zone
			try:
				name, off = decode_name(data, 12)
				self.queries.append((name, struct.unpack("!H", data[off:off + 2])[0]))
			except (IndexError, ValueError, struct.error):
				return None
		try:
			return build_reply(data, zone, limit, self.negative_ttl)
		except (IndexError, ValueError, struct.error):
			return None

	def start(self):
		outer = self

		class Udp(socketserver.BaseRequestHandler):
			def handle(self):
				data, sock = self.request
				reply = outer._answer(data, 512)
				if reply is not None:
					sock.sendto(reply, self.client_address)

		class Tcp(socketserver.BaseRequestHandler):
			def handle(self):
				self.request.settimeout(5)
				try:
					while True:
						head = self._read(2)
						if head is None:
							return
						data = self._read(struct.unpack("!H", head)[0])
						if data is None:
							return
						reply = outer._answer(data, None)
						if reply is None:
							return
						self.request.sendall(struct.pack("!H", len(reply)) + reply)
				except OSError:
					return

			def _read(self, n):
				buf = b""
				while len(buf) < n:
					c = self.request.recv(n - len(buf))
					if not c:
						return None
					buf += c
				return buf

		for _ in range(50):
			udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Udp)
			port = udp.server_address[1]
			try:
				tcp = socketserver.ThreadingTCPServer(("127.0.0.1", port), Tcp)
			except OSError:
				udp.server_close()
				continue
			break
		else:
			raise RuntimeError("no free port for the fake DNS")
		udp.daemon_threads = tcp.daemon_threads = True
		self.udp, self.tcp, self.port = udp, tcp, port
		for srv in (udp, tcp):
			threading.Thread(target=srv.serve_forever, daemon=True).start()
		return self

	def stop(self):
		for srv in (self.udp, self.tcp):
			if srv is not None:
				srv.shutdown()
				srv.server_close()
		self.udp = self.tcp = None


def silent_udp_port():
	"""A bound UDP socket that never answers (a DNS server that is down
	but does not say so); returns (socket, port). Keep the socket open."""
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("127.0.0.1", 0))
	return s, s.getsockname()[1]
