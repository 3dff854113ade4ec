package io.lowbit.kernel;

import com.google.gson.JsonObject;
import io.lowbit.kernel.Wire.Msg;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * {@code lowbit kernel --check}: starts a kernel in a new JVM as Jupyter would (same java, class
 * path and flags as this one), asks for kernel_info, runs one cell that uses the DSL, and says what
 * happened. Exit status 0 only when the cell's result came back.
 */
final class Check {
    private Check() {}

    static int run() throws Exception {
        Path conn = Files.createTempFile("lowbit-check-", ".json");
        String key = UUID.randomUUID().toString();
        int[] ports = freePorts(5);
        Files.writeString(
                conn,
                Wire.obj(
                                "transport",
                                "tcp",
                                "ip",
                                "127.0.0.1",
                                "shell_port",
                                ports[0],
                                "iopub_port",
                                ports[1],
                                "stdin_port",
                                ports[2],
                                "control_port",
                                ports[3],
                                "hb_port",
                                ports[4],
                                "key",
                                key,
                                "signature_scheme",
                                "hmac-sha256")
                        .toString());
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), conn.toString()));
        long t0 = System.nanoTime();
        Process kernel = new ProcessBuilder(cmd)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        Wire wire = new Wire(key);
        try (ZContext ctx = new ZContext()) {
            ZMQ.Socket shell = ctx.createSocket(SocketType.DEALER);
            ZMQ.Socket iopub = ctx.createSocket(SocketType.SUB);
            shell.connect("tcp://127.0.0.1:" + ports[0]);
            iopub.connect("tcp://127.0.0.1:" + ports[1]);
            iopub.subscribe(new byte[0]);
            shell.setReceiveTimeOut(60_000);
            iopub.setReceiveTimeOut(60_000);

            Msg info = request(wire, shell, "kernel_info_request", new JsonObject());
            if (info == null) return fail(kernel, "no kernel_info_reply within 60 s");
            double ready = (System.nanoTime() - t0) / 1e9;
            System.out.printf(
                    "kernel_info: %s %s, protocol %s (%.2f s after start)%n",
                    info.content().get("implementation").getAsString(),
                    info.content().get("implementation_version").getAsString(),
                    info.content().get("protocol_version").getAsString(),
                    ready);

            String code = "var g = bits(4); g.bits() * 10 + 2";
            Msg reply = request(
                    wire,
                    shell,
                    "execute_request",
                    Wire.obj(
                            "code",
                            code,
                            "silent",
                            false,
                            "store_history",
                            true,
                            "user_expressions",
                            new JsonObject(),
                            "allow_stdin",
                            false,
                            "stop_on_error",
                            true));
            if (reply == null) return fail(kernel, "no execute_reply within 60 s");
            if (!reply.content().get("status").getAsString().equals("ok"))
                return fail(kernel, "the cell failed: " + reply.content());
            String result = null;
            while (result == null) {
                Msg m = receive(wire, iopub);
                if (m == null) break;
                if (m.type().equals("execute_result"))
                    result = m.content()
                            .getAsJsonObject("data")
                            .get("text/plain")
                            .getAsString();
                if (m.type().equals("error")) return fail(kernel, "the cell failed: " + m.content());
            }
            double total = (System.nanoTime() - t0) / 1e9;
            if (!"42".equals(result)) return fail(kernel, "the cell " + code + " gave " + result + ", not 42");
            System.out.printf("cell: %s → %s (%.2f s after start)%n", code, result, total);
            request(wire, shell, "shutdown_request", Wire.obj("restart", false));
            if (!kernel.waitFor(10, TimeUnit.SECONDS))
                return fail(kernel, "the kernel did not exit after shutdown_request");
            System.out.println("OK: the Lowbit kernel starts, runs a cell with the DSL, and shuts down");
            return 0;
        } finally {
            kernel.destroyForcibly();
            Files.deleteIfExists(conn);
        }
    }

    private static Msg request(Wire wire, ZMQ.Socket shell, String type, JsonObject content) {
        var frames = wire.encode(wire.message(type, null, content));
        for (int i = 0; i < frames.size(); i++) shell.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0);
        return receive(wire, shell);
    }

    private static Msg receive(Wire wire, ZMQ.Socket s) {
        byte[] first = s.recv(0);
        if (first == null) return null;
        List<byte[]> frames = new ArrayList<>(List.of(first));
        while (s.hasReceiveMore()) frames.add(s.recv(0));
        return wire.decode(frames);
    }

    private static int fail(Process kernel, String why) {
        System.out.println("FAILED: " + why
                + (kernel.isAlive() ? "" : " (the kernel exited with status " + kernel.exitValue() + ")"));
        return 1;
    }

    private static int[] freePorts(int n) throws Exception {
        int[] ports = new int[n];
        List<ServerSocket> open = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0);
                open.add(s);
                ports[i] = s.getLocalPort();
            }
        } finally {
            for (ServerSocket s : open) s.close();
        }
        return ports;
    }
}
