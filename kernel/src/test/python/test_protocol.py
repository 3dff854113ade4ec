"""The protocol as a real client sees it, for what the standard suite does not cover: interrupts,
stdin, stop_on_error, history, restart and shutdown, an orphaned kernel, errors from rendering,
output coalescing, NaN and java.time values, images, magics, offline Plotly."""
import base64
import datetime
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib

import pytest
from jupyter_client.manager import start_new_kernel

from conftest import Session


def test_every_reply_has_a_status_and_dates_have_microseconds(kernel):
    kc = kernel.kc
    msg_id = kc.kernel_info()
    reply = kernel.reply(msg_id)
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["implementation"] == "lowbit"
    date = reply["header"]["date"]
    assert isinstance(date, datetime.datetime), "jupyter_client parses ISO-8601 dates; this one did not parse"
    assert date.tzinfo is not None
    for request in ("comm_info", "history"):
        msg_id = getattr(kc, request)()
        assert kernel.reply(msg_id)["content"]["status"] == "ok", request


def test_unknown_requests_are_answered_not_dropped(kernel):
    kc = kernel.kc
    msg = kc.session.msg("made_up_request", {})
    kc.shell_channel.send(msg)
    reply = kernel.reply(msg["header"]["msg_id"], timeout=10)
    assert reply["msg_type"] == "made_up_reply"
    assert reply["content"]["status"] == "error"
    msg = kc.session.msg("usage_request", {})
    kc.control_channel.send(msg)
    reply = kc.get_control_msg(timeout=10)
    assert reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]
    assert reply["content"]["status"] == "ok" and reply["content"]["pid"] > 0


def test_interrupt_stops_a_tight_loop_within_two_seconds_and_keeps_state(kernel):
    assert kernel.result_text("long[] n = {0};\nn[0]") == "0"
    msg_id = kernel.kc.execute("while (true) { n[0]++; }")
    time.sleep(1.5)
    t0 = time.time()
    kernel.km.interrupt_kernel()
    reply = kernel.reply(msg_id, timeout=10)
    assert time.time() - t0 < 2.0
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "Interrupted"
    kernel.outputs(msg_id)
    assert int(kernel.result_text("n[0]")) > 0  # the loop ran, and its object is still there
    assert kernel.result_text("1 + 1") == "2"


def test_interrupt_stops_a_long_dsl_call_and_leaves_the_model_as_it_was(kernel):
    kernel.result_text('var im = load("stories260K");\nvar before = im.fingerprint();\nbefore')
    msg_id = kernel.kc.execute("quantize(im, bits(3), GPTQ, calibrate(im, tinystoriesTrain(), 256))")
    time.sleep(3)
    t0 = time.time()
    kernel.km.interrupt_kernel()
    reply = kernel.reply(msg_id, timeout=10)
    assert time.time() - t0 < 2.0, f"took {time.time() - t0:.1f} s"
    assert reply["content"]["ename"] == "Interrupted"
    kernel.outputs(msg_id)
    assert kernel.result_text("im.fingerprint().equals(before)") == "true"
    assert kernel.result_text("generate(im, \"Once upon a time\", 5).text().isEmpty()") == "false"


def test_stdin_reaches_the_cell(kernel):
    kc = kernel.kc
    msg_id = kc.execute('var line = new Scanner(System.in).nextLine();\nline.length()', allow_stdin=True)
    request = kc.get_stdin_msg(timeout=20)
    assert request["msg_type"] == "input_request"
    kc.input("héllo")
    reply = kernel.reply(msg_id)
    assert reply["content"]["status"] == "ok"
    results = [m for m in kernel.outputs(msg_id) if m["msg_type"] == "execute_result"]
    assert results[0]["content"]["data"]["text/plain"] == "5"


def test_stop_on_error_aborts_the_cells_queued_behind_a_failure(kernel):
    kc = kernel.kc
    first = kc.execute('Thread.sleep(500); throw new IllegalStateException("fails");')
    second = kc.execute('System.out.println("must not run");')
    third = kc.execute("1 + 1")
    statuses = [kernel.reply(i)["content"]["status"] for i in (first, second, third)]
    assert statuses == ["error", "aborted", "aborted"]
    kernel.drain_iopub()
    # and without stop_on_error the next cell runs
    a = kc.execute('throw new IllegalStateException("fails");', stop_on_error=False)
    b = kc.execute("2 + 2")
    assert [kernel.reply(i)["content"]["status"] for i in (a, b)] == ["error", "ok"]
    kernel.drain_iopub()


def test_silent_cells_do_not_count_or_show_and_store_history_is_honoured(kernel):
    kc = kernel.kc
    reply, _ = kernel.execute("1")
    count = reply["execution_count"]
    reply, msgs = kernel.execute("99", silent=True)
    assert [m["msg_type"] for m in msgs] == ["status", "status"]  # busy, idle: no input echo, no result
    reply, _ = kernel.execute('"not stored"', store_history=False)
    reply, _ = kernel.execute("3")
    assert reply["execution_count"] == count + 1
    hist = kernel.reply(kc.history(hist_access_type="tail", n=50))["content"]["history"]
    inputs = [h[2] for h in hist]
    assert "3" in inputs and "99" not in inputs and '"not stored"' not in inputs
    hist = kernel.reply(kc.history(hist_access_type="search", pattern="3*", n=5))["content"]["history"]
    assert all(h[2].startswith("3") for h in hist) and hist


def test_a_thousand_prints_become_a_few_messages(kernel):
    reply, msgs = kernel.execute("for (int i = 0; i < 1000; i++) System.out.println(i);")
    streams = [m for m in msgs if m["msg_type"] == "stream"]
    assert "".join(m["content"]["text"] for m in streams) == "".join(f"{i}\n" for i in range(1000))
    assert len(streams) <= 10, f"{len(streams)} stream messages"


def test_errors_from_rendering_and_from_cells_never_kill_the_kernel(kernel):
    kernel.result_text('class Bad { public String toString() { throw new Error("bad toString"); } }\n1')
    reply, msgs = kernel.execute("new Bad()")
    assert reply["status"] == "ok"
    assert "Bad" in [m for m in msgs if m["msg_type"] == "execute_result"][0]["content"]["data"]["text/plain"]
    reply, _ = kernel.execute("display(new Bad());")
    assert reply["status"] == "ok"
    reply, msgs = kernel.execute("throw new StackOverflowError();")
    assert reply["status"] == "error" and reply["ename"] == "StackOverflowError"
    reply, _ = kernel.execute("int deep(int n) { return deep(n + 1); }\ndeep(0)")
    assert reply["status"] == "error" and reply["ename"] == "StackOverflowError"
    assert kernel.result_text("1 + 1") == "2"


def test_errors_name_the_line_of_the_cell(kernel):
    reply, msgs = kernel.execute("int a = 1;\nint b = a / 0;")
    assert reply["ename"] == "ArithmeticException"
    assert any("line 2 of the cell" in line for line in reply["traceback"])
    reply, _ = kernel.execute("int c = 1;\nString s = c;")
    assert reply["ename"] == "CompileError"
    assert any("line 2 of the cell" in line for line in reply["traceback"])
    assert any("incompatible types" in line for line in reply["traceback"])
    assert not any("\x1b[30m" in line or "\x1b[1;30m" in line for line in reply["traceback"]), "black text"


def test_nan_infinity_and_time_values_never_break_a_message(kernel):
    text = kernel.result_text('Table.of("t", List.of("a", "b"), List.of(List.of(Double.NaN, Double.POSITIVE_INFINITY)))')
    assert "NaN" in text and "Infinity" in text
    assert kernel.result_text("java.time.LocalDate.of(2026, 11, 23)") == "2026-11-23"
    assert kernel.result_text("Map.of(\"x\", Double.NaN)") == "{x=NaN}"


def png_chunks(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    i, names = 8, []
    while i < len(data):
        length, = struct.unpack(">I", data[i:i + 4])
        name = data[i + 4:i + 8]
        body = data[i + 8:i + 8 + length]
        crc, = struct.unpack(">I", data[i + 8 + length:i + 12 + length])
        assert zlib.crc32(name + body) == crc, f"bad CRC in {name}"
        names.append(name)
        i += 12 + length
    assert names[-1] == b"IEND"
    return names


def test_images_are_whole_pngs(kernel):
    for code in ('lines("t", "x", "y", List.of(1, 2, 3), Map.of("s", List.of(3, 1, 2)))',
                 "new java.awt.image.BufferedImage(33, 33, java.awt.image.BufferedImage.TYPE_INT_RGB)",
                 "new java.awt.image.BufferedImage(40, 30, java.awt.image.BufferedImage.TYPE_INT_ARGB)"):
        reply, msgs = kernel.execute(code)
        data = [m for m in msgs if m["msg_type"] == "execute_result"][0]["content"]["data"]
        png_chunks(base64.b64decode(data["image/png"]))


def test_magics_run_and_java_percent_is_never_a_magic(kernel):
    reply, msgs = kernel.execute("%time int slow = 6 * 7;")
    assert "Wall time" in kernel.stdout(msgs)
    reply, msgs = kernel.execute("%%time\nint t = 1;\nt + 1")
    assert "Wall time" in kernel.stdout(msgs)
    assert kernel.result_text("int r = 10\n% 3;\nr") == "1"
    assert kernel.result_text("10 %3") == "1"
    reply, msgs = kernel.execute('System.out.printf("%d%%%n", 5);')
    assert kernel.stdout(msgs) == "5%\n"
    assert kernel.result_text('String tb = """\n%time\n""";\ntb.strip()') == "%time"
    assert kernel.result_text("/*\n%jvm\n*/ 7") == "7"
    reply, msgs = kernel.execute("%device")
    assert "default device: cpu" in kernel.stdout(msgs)
    reply, msgs = kernel.execute("%jvm")
    assert "heap:" in kernel.stdout(msgs)
    reply, _ = kernel.execute("%nosuchmagic")
    assert reply["ename"] == "UnknownMagic"


def test_classpath_magic_adds_a_jar(kernel, tmp_path):
    src = tmp_path / "src" / "demo"
    src.mkdir(parents=True)
    (src / "Hello.java").write_text("package demo; public class Hello { public static String hi() { return \"hi from a jar\"; } }")
    java = os.path.join(os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin")
    subprocess.run([os.path.join(java, "javac"), "-d", str(tmp_path / "classes"), str(src / "Hello.java")], check=True)
    jar = tmp_path / "hello.jar"
    subprocess.run([os.path.join(java, "jar"), "cf", str(jar), "-C", str(tmp_path / "classes"), "."], check=True)
    reply, msgs = kernel.execute(f"%classpath {jar}")
    assert reply["status"] == "ok", reply
    assert kernel.result_text("demo.Hello.hi()") == "hi from a jar"
    reply, _ = kernel.execute("%classpath /no/such.jar")
    assert reply["ename"] == "ClasspathError"


def test_inspection_shows_the_dsl_verbs_own_documentation(kernel):
    code = 'quantize(m, bits(4), RTN)'
    reply = kernel.reply(kernel.kc.inspect(code, cursor_pos=3))["content"]
    assert reply["status"] == "ok" and reply["found"]
    text = reply["data"]["text/plain"]
    assert "quantize(" in text and "QuantizedModel" in text


def test_plotly_is_opt_in_and_offline(kernel):
    fig = ('tech.tablesaw.plotly.api.LinePlot.create("t", tech.tablesaw.api.Table.create("d", '
           'tech.tablesaw.api.DoubleColumn.create("x", 1, 2, 3), tech.tablesaw.api.DoubleColumn.create("y", 3, 1, 2)), "x", "y")')
    off = kernel.execute(fig)[1]
    data = [m for m in off if m["msg_type"] == "execute_result"][0]["content"]["data"]
    assert "text/html" not in data and "%plotly on" in data["text/plain"]
    kernel.execute("%plotly on")
    first = [m for m in kernel.execute(fig)[1] if m["msg_type"] == "execute_result"][0]["content"]["data"]["text/html"]
    second = [m for m in kernel.execute(fig)[1] if m["msg_type"] == "execute_result"][0]["content"]["data"]["text/html"]
    assert len(first) > 1_000_000 > len(second), "plotly.js goes inline once, then figures reuse it"
    for html in (first, second):
        assert "require(" not in html.split("</script>", 1)[-1] and "<script src" not in html
        outside_library = html if html is second else html.split("</script>", 1)[1]
        assert "http://" not in outside_library and "https://" not in outside_library
        assert "Plotly.newPlot" in outside_library
    kernel.execute("%plotly off")


def test_restart_and_shutdown():
    s = Session()
    try:
        assert s.result_text("int kept = 5;\nkept") == "5"
        s.km.restart_kernel(now=False)
        s.kc.wait_for_ready(timeout=60)
        reply, _ = s.execute("kept")
        assert reply["status"] == "error", "a restart starts a fresh session"
        assert s.result_text("1 + 1") == "2"
        pid = s.km.provisioner.process.pid if hasattr(s.km, "provisioner") else s.km.kernel.pid
        s.km.shutdown_kernel(now=False)
        deadline = time.time() + 15
        while time.time() < deadline and _alive(pid):
            time.sleep(0.2)
        assert not _alive(pid), "the kernel process is still running after shutdown_request"
    finally:
        s.kc.stop_channels()


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_the_kernel_exits_when_its_client_is_killed(tmp_path):
    launcher = tmp_path / "client.py"
    launcher.write_text(textwrap.dedent("""
        import sys, time
        from jupyter_client.manager import start_new_kernel
        km, kc = start_new_kernel(kernel_name="lowbit", startup_timeout=60)
        print(km.provisioner.process.pid if hasattr(km, "provisioner") else km.kernel.pid, flush=True)
        time.sleep(600)
    """))
    client = subprocess.Popen([sys.executable, str(launcher)], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    kernel_pid = int(client.stdout.readline())
    assert _alive(kernel_pid)
    client.send_signal(signal.SIGKILL)
    client.wait()
    deadline = time.time() + 10
    while time.time() < deadline and _alive(kernel_pid):
        time.sleep(0.2)
    alive = _alive(kernel_pid)
    if alive:
        os.kill(kernel_pid, signal.SIGKILL)
    assert not alive, "the kernel outlived its client by more than 10 s"


def test_long_dsl_work_shows_one_progress_bar_updated_in_place(kernel):
    kernel.result_text('var pm = load("stories260K");\n1')
    reply, msgs = kernel.execute("eval(pm, perplexity(tinystories()).first(30).window(256))")
    assert reply["status"] == "ok"
    shown = [m for m in msgs if m["msg_type"] == "display_data"]
    updates = [m for m in msgs if m["msg_type"] == "update_display_data"]
    assert len(shown) == 1, "one bar per stage of work"
    bar_id = shown[0]["content"]["transient"]["display_id"]
    assert "<progress" in shown[0]["content"]["data"]["text/html"]
    assert updates and all(u["content"]["transient"]["display_id"] == bar_id for u in updates)
    assert "(100%)" in updates[-1]["content"]["data"]["text/plain"]


def test_tablesaw_tables_render_as_html(kernel):
    data = kernel.execute('tech.tablesaw.api.Table.create("scores", tech.tablesaw.api.StringColumn.create("model", "a", "b<c"), '
                          'tech.tablesaw.api.DoubleColumn.create("ppl", 4.07, Double.NaN))')[1]
    bundle = [m for m in data if m["msg_type"] == "execute_result"][0]["content"]["data"]
    assert "<th>model</th>" in bundle["text/html"] and "b&lt;c" in bundle["text/html"]
    assert "scores" in bundle["text/plain"]
