"""Shared fixtures: a running Lowbit kernel driven by jupyter_client, as a front end would.

The kernelspec comes from install/kernelspec.sh into a temporary JUPYTER_PATH (install/test-kernel.sh).
"""
import os
import queue
import time

import pytest
from jupyter_client.manager import start_new_kernel

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


class Session:
    """A kernel and its client, with helpers that collect a request's messages."""

    def __init__(self):
        self.km, self.kc = start_new_kernel(kernel_name="lowbit", startup_timeout=60)

    def execute(self, code, timeout=60, **kw):
        """Runs code; returns (reply content, [iopub messages of this request up to idle])."""
        msg_id = self.kc.execute(code, **kw)
        reply = self.reply(msg_id, timeout)
        return reply["content"], self.outputs(msg_id, timeout)

    def reply(self, msg_id, timeout=60):
        deadline = time.time() + timeout
        while True:
            m = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
            if m["parent_header"].get("msg_id") == msg_id:
                return m

    def outputs(self, msg_id, timeout=30):
        out = []
        deadline = time.time() + timeout
        while True:
            m = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            out.append(m)
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                return out

    def result_text(self, code):
        reply, msgs = self.execute(code)
        assert reply["status"] == "ok", reply
        results = [m for m in msgs if m["msg_type"] == "execute_result"]
        assert results, f"no result for {code!r}: {[m['msg_type'] for m in msgs]}"
        return results[-1]["content"]["data"]["text/plain"]

    def stdout(self, msgs):
        return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")

    def drain_iopub(self):
        try:
            while True:
                self.kc.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            pass

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel():
    s = Session()
    yield s
    s.close()
