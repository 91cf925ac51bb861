"""Privileges (issue 6, first step): started as root, only the master
keeps root; every child (workers, and the queue runner when there is
one) runs as the config's `user`, with no effective, permitted or
ambient capabilities, and with PR_SET_NO_NEW_PRIVS set. Read from
/proc/<pid>/status of the live process tree. Skipped unless root (the
harness then runs the instance as root, as in production)."""

import os

import pytest

import sealpost_harness as H


def status_fields(pid):
	out = {}
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			k, _, v = line.partition(":")
			out[k] = v.split()
	return out


def test_privileges_children_unprivileged(make_instance):
	if os.geteuid() != 0 or H.run_as() is not None:
		pytest.skip("needs the instance started as root")
	inst = make_instance({"workers": "2"}, name="privs")
	master = inst.proc.pid
	children = [p for p in inst.pids() if p != master]
	assert len(children) >= 2, children
	for pid in children:
		st = status_fields(pid)
		uids = [int(u) for u in st["Uid"]]
		gids = [int(g) for g in st["Gid"]]
		assert all(u != 0 for u in uids), (pid, st["Uid"])
		assert all(g != 0 for g in gids), (pid, st["Gid"])
		for cap in ("CapEff", "CapPrm", "CapAmb"):
			assert int(st[cap][0], 16) == 0, (pid, cap, st[cap])
		assert st["NoNewPrivs"] == ["1"], (pid, st["NoNewPrivs"])
		groups = [int(g) for g in st.get("Groups", [])]
		assert 0 not in groups, (pid, groups)
	# The workers still serve.
	c = inst.client()
	c.ehlo()
	c.quit()
