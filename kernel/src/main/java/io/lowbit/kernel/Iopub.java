package io.lowbit.kernel;

import com.google.gson.JsonObject;
import io.lowbit.kernel.Wire.Msg;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The IOPub channel: one thread owns the PUB socket, everybody else enqueues. Writes to stdout and
 * stderr are buffered and sent as one {@code stream} message every {@link #FLUSH_MS} ms (or before
 * any other message, so order is kept), not one message per {@code print}. Output always has a
 * parent: the request being handled, or after it ends the last one, so output from background
 * threads is not lost.
 */
final class Iopub implements AutoCloseable {
    static final long FLUSH_MS = 50;
    private static final int MAX_BUFFER = 64 * 1024;
    private static final Msg STOP = new Msg(null, null, null, null, null, null);

    private final Wire wire;
    private final ZMQ.Socket socket;
    private final LinkedBlockingQueue<Msg> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private final Stream stdout = new Stream("stdout");
    private final Stream stderr = new Stream("stderr");
    private volatile Msg parent;
    private final Map<String, CountDownLatch> flushes = new ConcurrentHashMap<>();

    Iopub(ZContext ctx, Wire wire, String address) {
        this.wire = wire;
        this.socket = ctx.createSocket(SocketType.PUB);
        socket.setLinger(1000);
        socket.bind(address);
        thread = Thread.ofPlatform().daemon().name("lowbit-iopub").start(this::loop);
    }

    /** The request that output belongs to from now on. */
    void parent(Msg p) {
        flush();
        parent = p;
    }

    Msg parent() {
        return parent;
    }

    OutputStream stdout() {
        return stdout;
    }

    OutputStream stderr() {
        return stderr;
    }

    void status(String state, Msg p) {
        publish("status", p, Wire.obj("execution_state", state));
    }

    /** Sends a message now, after any buffered stream text. */
    void publish(String type, Msg p, JsonObject content) {
        queue.add(wire.message(type, p, content));
    }

    /** Output belonging to the current parent. */
    void publish(String type, JsonObject content) {
        publish(type, parent, content);
    }

    /** Blocks until every buffered byte and queued message has left. */
    void flush() {
        if (Thread.currentThread() == thread) return;
        Msg marker = wire.message("flush", null, new JsonObject());
        var done = new CountDownLatch(1);
        flushes.put(marker.id(), done);
        queue.add(marker);
        try {
            if (!done.await(5, TimeUnit.SECONDS)) Kernels.log("iopub flush timed out");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            flushes.remove(marker.id());
        }
    }

    private void loop() {
        try {
            while (true) {
                Msg m = queue.poll(FLUSH_MS, TimeUnit.MILLISECONDS);
                if (m == STOP) break;
                stdout.drain();
                stderr.drain();
                if (m == null) continue;
                switch (m.type()) {
                    case "flush" -> {
                        var l = flushes.get(m.id());
                        if (l != null) l.countDown();
                    }
                    case "flush-hint" -> {}
                    default -> send(m);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            Kernels.log("iopub stopped: " + t);
        }
    }

    private void send(Msg m) {
        var frames = wire.encode(m);
        for (int i = 0; i < frames.size(); i++) socket.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0);
    }

    @Override
    public void close() {
        flush();
        queue.add(STOP);
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        socket.close();
    }

    /**
     * stdout or stderr: bytes collect here; the IOPub thread turns them into a stream message,
     * keeping an unfinished UTF-8 sequence for the next one so no character is split.
     */
    private final class Stream extends OutputStream {
        private final String name;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        Stream(String name) {
            this.name = name;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            boolean full;
            synchronized (this) {
                pending.write(b, off, len);
                full = pending.size() >= MAX_BUFFER;
            }
            if (full) queue.add(wire.message("flush-hint", null, new JsonObject())); // wakes the loop now
        }

        /** Called on the IOPub thread only, before any other message: sends what is complete. */
        void drain() {
            String text;
            synchronized (this) {
                if (pending.size() == 0) return;
                byte[] all = pending.toByteArray();
                int end = completeUtf8(all);
                text = new String(all, 0, end, StandardCharsets.UTF_8);
                pending.reset();
                pending.write(all, end, all.length - end);
            }
            if (!text.isEmpty()) send(wire.message("stream", parent, Wire.obj("name", name, "text", text)));
        }
    }

    /** The length of the longest prefix that does not end inside a multi-byte UTF-8 character. */
    static int completeUtf8(byte[] b) {
        int n = b.length;
        for (int back = 1; back <= Math.min(3, n); back++) {
            int c = b[n - back] & 0xff;
            if ((c & 0xc0) == 0x80) continue; // a continuation byte: look further back
            int need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            return need > back ? n - back : n;
        }
        return n;
    }
}
