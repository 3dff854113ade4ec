"""The kernel outlives what users and networks do to it: an interrupt at any moment of the first cell
(queued behind the kernel's start, compiling, running, rendering) stops that cell and nothing else;
System.exit and Runtime.halt in a cell are refused; a replayed signed message is not run twice."""
import time

import pytest
import zmq
from jupyter_client.manager import KernelManager

from conftest import Session

LOOP = "long x = 0;\nwhile (true) { x++; }"


def interrupt_and_wait(session, msg_id, limit=2.0):
    t0 = time.time()
    session.km.interrupt_kernel()
    reply = session.reply(msg_id, timeout=15)
    took = time.time() - t0
    assert took < limit, f"the interrupted cell answered after {took:.2f} s"
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "Interrupted", reply["content"]
    session.outputs(msg_id)


@pytest.mark.parametrize("delay", [0.1, 0.5, 2, 6])
def test_an_interrupt_at_any_moment_of_the_first_cell_stops_it(delay):
    s = Session()  # fresh: the first cell after start is the one that used to compile for seconds
    try:
        msg_id = s.kc.execute(LOOP)
        time.sleep(delay)
        interrupt_and_wait(s, msg_id)
        assert s.result_text("int after = 41;\nafter + 1") == "42"
        if delay >= 2:  # long enough to be inside the loop: its variable is kept
            assert int(s.result_text("x")) > 0
    finally:
        s.close()


def heartbeat(km, timeout=30):
    """Waits until the kernel process answers its heartbeat: it listens, and JShell is still starting."""
    info = km.get_connection_info()
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"{info['transport']}://{info['ip']}:{info['hb_port']}")
    try:
        sock.send(b"ping")
        assert sock.poll(timeout * 1000), "no heartbeat"
        sock.recv()
    finally:
        sock.close()


@pytest.mark.parametrize("when", ["before the kernel listens", "while JShell starts"])
def test_an_interrupt_while_the_kernel_is_still_starting_stops_the_queued_cell_only(when):
    km = KernelManager(kernel_name="lowbit")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    s = Session.__new__(Session)  # the helpers, on a client that did not wait for kernel_info
    s.km, s.kc = km, kc
    try:
        if when == "while JShell starts":
            heartbeat(km)
        msg_id = kc.execute(LOOP)  # sent at once: it waits for JShell to start
        time.sleep(0.3)
        interrupt_and_wait(s, msg_id)
        kc.wait_for_ready(timeout=60)
        s.drain_iopub()
        assert s.result_text("1 + 1") == "2"
        km.interrupt_kernel()  # an interrupt with no cell running stops nothing sent after it
        time.sleep(0.5)
        assert s.result_text("int later = 6;\nlater * 7") == "42"
    finally:
        s.close()


def test_an_interrupt_while_the_looping_snippet_compiles_stops_it():
    s = Session()
    try:
        # one snippet whose body takes javac a while: the interrupt lands before the loop has started
        body = "\n".join(f"  y += {i} * y ^ (y >>> {i % 31});" for i in range(1500))
        code = "while (true) {\n" + body + "\n}"
        t0 = time.time()
        reply, _ = s.execute("long y = 1;\nif (y > 1) {\n" + body + "\n}")  # how long the same compile takes
        compile_s = time.time() - t0
        assert reply["status"] == "ok", reply
        msg_id = s.kc.execute(code)
        time.sleep(min(0.1, compile_s / 4))
        interrupt_and_wait(s, msg_id)
        assert s.result_text("y") == "1", "the loop never ran"
    finally:
        s.close()


def test_an_interrupt_while_the_result_renders_stops_the_cell(kernel):
    kernel.result_text("class Endless { public String toString() { while (true) { } } }\n1")
    msg_id = kernel.kc.execute("new Endless()")
    time.sleep(1)
    interrupt_and_wait(kernel, msg_id)
    assert kernel.result_text("class Fine { public String toString() { return \"fine\"; } }\nnew Fine()") == "fine"


@pytest.mark.parametrize("call,named", [
    ("System.exit(3);", "System.exit(3)"),
    ("Runtime.getRuntime().halt(1);", "Runtime.halt(1)"),
    ("Runtime.getRuntime().exit(0);", "Runtime.exit(0)"),
    ("void bye() { System.exit(4); }\nbye();", "System.exit(4)"),
    ("java.util.function.IntConsumer quit = System::exit;\nquit.accept(5);", "System.exit(5)"),
])
def test_exit_and_halt_are_refused_and_the_state_is_kept(kernel, call, named):
    kernel.result_text("int kept = 41;\nkept")
    reply, msgs = kernel.execute(call)
    assert reply["status"] == "error", reply
    assert reply["ename"] == "ExitRefused", reply
    assert named in reply["evalue"] and "refused" in reply["evalue"], reply["evalue"]
    assert kernel.result_text("kept + 1") == "42"


def test_a_replayed_signed_request_runs_once(kernel):
    kernel.result_text("int[] runs = {0};\nruns[0]")
    info = kernel.km.get_connection_info()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"{info['transport']}://{info['ip']}:{info['shell_port']}")
    try:
        session = kernel.kc.session
        msg = session.msg("execute_request", {"code": "runs[0]++;", "silent": False, "store_history": False,
                                              "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        frames = session.serialize(msg)
        sock.send_multipart(frames)
        sock.send_multipart(frames)  # the same bytes again, as a replaying attacker would
        replies = []
        deadline = time.time() + 5
        while time.time() < deadline:
            if sock.poll(200):
                replies.append(session.deserialize(session.feed_identities(sock.recv_multipart())[1]))
        assert [r["msg_type"] for r in replies] == ["execute_reply"]
    finally:
        sock.close()
    kernel.drain_iopub()
    assert kernel.result_text("runs[0]") == "1"
