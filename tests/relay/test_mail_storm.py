"""The founding document's "infinite mail storm": host one holds list A,
host two holds list B, each list contains the other (plus one real member
each). Two sealpost instances on loopback, routed to each other with
`transport`. One message to list A must end with each real member holding
exactly one copy, exactly one bounce, both queues empty, in a bounded time
and a bounded number of SMTP transactions (docs/outbound.md, "The mail
storm", explains the counts asserted here).

Two flavours: real lists (an owner-<list> alias exists, so copies leave
with the owner as envelope sender and the bounce goes to the owner), and
plain forwarding aliases (no owner: the envelope sender is rewritten with
SRS, and the bounce travels back through both SRS hops to the original
sender at a third, fake, host)."""

import re
import time

import sealpost_harness as H
from relay_support import FakePeer, queue_empty, wait_for

ONE = "example.test"
TWO = "example.net"
A1 = "a1@" + ONE
B1 = "b1@" + TWO
SENDER = "poster@example.org"
# Generous for a sanitized build on a loaded machine; it takes ~3 s.
STORM_TIMEOUT = 60


def _pw(addr):
	return ("%s-Pw-1\n" % addr.split("@")[0]).encode()


def make_hosts(make_instance, extra_one=None):
	"""Instances one (example.test) and two (example.net), routed to each
	other, not started. Short scan/retry so the test is quick."""
	one = make_instance({"queue_scan_interval": "1",
	    "queue_retry_schedule": "1s"}, start=False, name="one")
	two = make_instance({"domains": TWO, "queue_scan_interval": "1",
	    "queue_retry_schedule": "1s"}, start=False, users=False, name="two")
	routes = {"transport": "%s=[127.0.0.1]:%d" % (TWO, two.smtp)}
	routes.update(extra_one or {})
	if "peer" in routes:
		routes["transport"] += ", example.org=[127.0.0.1]:%d" % routes.pop(
		    "peer")
	one.conf.write_text(H.config_with_overrides(one.conf.read_text(), routes))
	two.conf.write_text(H.config_with_overrides(two.conf.read_text(),
	    {"transport": "%s=[127.0.0.1]:%d" % (ONE, one.smtp)}))
	one.cli("user", "add", A1, "--password-stdin", input=_pw(A1))
	two.cli("user", "add", B1, "--password-stdin", input=_pw(B1))
	return one, two


def post(one, rcpt, mk):
	"""The one message, from an outside client on port 25."""
	c = one.client()
	c.ehlo()
	r = c.mail_message(SENDER, [rcpt], H.simple_message(mk, sender=SENDER,
	    to=rcpt))
	assert r.code == 250, r
	c.quit()


def smtp_transactions(*insts):
	"""Message transactions that reached the end of DATA on any instance:
	accepted (250) or refused there (the loop check's 554)."""
	n = 0
	for i in insts:
		log = i.log()
		n += len(re.findall(r"\bsmtp sid=\S+ event=accepted ", log))
		n += len(re.findall(r"\bsmtp sid=\S+ event=mail-loop ", log))
	return n


def bounces(inst, mk):
	return [m for _, m in inst.all_messages()
	    if b"Undelivered Mail Returned to Sender" in m and mk.encode() in m]


def settle(one, two, check, timeout=STORM_TIMEOUT):
	"""Waits until check() holds and both queues are empty, then watches
	a few more scan intervals to prove nothing else is on its way."""
	t0 = time.monotonic()
	ok = wait_for(lambda: check() and queue_empty(one) and queue_empty(two),
	    timeout)
	elapsed = time.monotonic() - t0
	assert ok, (one.log_tail(), two.log_tail())
	time.sleep(3 * H.SLOW)
	assert queue_empty(one) and queue_empty(two)
	return elapsed


def test_mail_storm_between_two_lists_ends(make_instance):
	one, two = make_hosts(make_instance)
	one.cli("alias", "add", "lista@" + ONE, A1, "listb@" + TWO)
	one.cli("alias", "add", "owner-lista@" + ONE, "alice@" + ONE)
	two.cli("user", "add", "listmaster@" + TWO, "--password-stdin",
	    input=_pw("listmaster@" + TWO))
	two.cli("alias", "add", "listb@" + TWO, B1, "lista@" + ONE)
	two.cli("alias", "add", "owner-listb@" + TWO, "listmaster@" + TWO)
	one.start()
	two.start()

	mk = H.marker()
	post(one, "lista@" + ONE, mk)
	elapsed = settle(one, two, lambda: one.find(A1, mk) and
	    two.find(B1, mk) and bounces(two, mk))

	# Exactly one copy per real member, exactly one bounce, to B's owner.
	a1, b1 = one.find(A1, mk), two.find(B1, mk)
	assert len(a1) == 1 and len(b1) == 1, (len(a1), len(b1))
	assert len(bounces(one, mk)) == 0
	assert len(bounces(two, mk)) == 1
	assert len(two.find("listmaster@" + TWO, mk)) == 1
	assert one.find("alice@" + ONE, mk) == []
	# Each copy says which list delivered it, newest first.
	assert b"\r\nDelivered-To: lista@example.test\r\n" in a1[0]
	hdr = b1[0].split(b"\r\n\r\n", 1)[0]
	assert hdr.index(b"Delivered-To: listb@example.net") < \
	    hdr.index(b"Delivered-To: lista@example.test"), hdr
	# Copies left with the list owner as envelope sender.
	assert re.search(r"event=list-expanded alias=<lista@example.test> "
	    r"local=1 remote=1 sender=<owner-lista@example.test>", one.log())
	# One refused the returning copy at the end of DATA, once.
	assert len(re.findall(r"event=mail-loop reason=delivered-to "
	    r"alias=<lista@example.test>", one.log())) == 1
	assert "554 5.4.6" in two.log()
	# Client -> one, one -> two, two -> one (refused): 3 transactions.
	n = smtp_transactions(one, two)
	print("\nmail storm (lists with owners): %d SMTP transactions, "
	    "%.1f s" % (n, elapsed))
	assert n == 3, (one.log(), two.log())


def test_mail_storm_between_two_forwards_with_srs(make_instance):
	peer = FakePeer()
	try:
		one, two = make_hosts(make_instance, {"peer": peer.port})
		one.cli("alias", "add", "fwda@" + ONE, A1, "fwdb@" + TWO)
		two.cli("alias", "add", "fwdb@" + TWO, B1, "fwda@" + ONE)
		one.start()
		two.start()

		mk = H.marker()
		post(one, "fwda@" + ONE, mk)
		elapsed = settle(one, two, lambda: one.find(A1, mk) and
		    two.find(B1, mk) and peer.transactions)

		assert len(one.find(A1, mk)) == 1
		assert len(two.find(B1, mk)) == 1
		assert bounces(one, mk) == [] and bounces(two, mk) == []
		# The one bounce reached the original sender at the third host,
		# with the null sender, after two SRS reversals.
		assert len(peer.transactions) == 1, peer.transactions
		t = peer.transactions[0]
		assert t["mail"].startswith("<>"), t
		assert t["rcpts"] == [SENDER], t
		assert b"Undelivered Mail Returned to Sender" in t["data"]
		assert mk.encode() in t["data"]
		# one forwarded with SRS0, two re-signed it as SRS1.
		assert re.search(r"event=list-expanded alias=<fwda@example.test> "
		    r"local=1 remote=1 sender=<SRS0=[a-z2-7]{8}=[a-z2-7]{2}="
		    r"example.org=poster@example.test>", one.log()), one.log()
		assert re.search(r"sender=<SRS1=[a-z2-7]{8}=example.test==",
		    two.log()), two.log()
		assert "event=srs-reversed" in one.log()
		# Client -> one, one -> two, two -> one (554), two -> one (the
		# bounce, to the SRS0 address), one -> peer: 4 on our instances.
		n = smtp_transactions(one, two)
		print("\nmail storm (forwards with SRS): %d SMTP transactions on "
		    "the two instances + 1 to the sender's host, %.1f s" % (
		    n, elapsed))
		assert n == 4, (one.log(), two.log())
	finally:
		peer.stop()
