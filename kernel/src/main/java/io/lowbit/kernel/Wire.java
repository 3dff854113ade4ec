package io.lowbit.kernel;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.lang.reflect.Array;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The Jupyter wire protocol (v5.3): a message is routing identities, the {@code <IDS|MSG>}
 * delimiter, an HMAC-SHA256 signature, then header, parent header, metadata and content as JSON,
 * then binary buffers. Timestamps are ISO-8601 with microseconds and a {@code Z}; every value a
 * message carries goes through {@link #json(Object)}, so NaN, infinities and {@code java.time}
 * values never break a message.
 */
final class Wire {
    static final String PROTOCOL_VERSION = "5.3";
    private static final byte[] DELIMITER = "<IDS|MSG>".getBytes(StandardCharsets.US_ASCII);
    private static final DateTimeFormatter DATE =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    /** One message; {@code identities} route a reply back to the client that asked. */
    record Msg(
            List<byte[]> identities,
            JsonObject header,
            JsonObject parent,
            JsonObject metadata,
            JsonObject content,
            List<byte[]> buffers) {
        String type() {
            return header.has("msg_type") ? header.get("msg_type").getAsString() : "";
        }

        String id() {
            return header.has("msg_id") ? header.get("msg_id").getAsString() : "";
        }

        String str(String key, String otherwise) {
            JsonElement e = content.get(key);
            return e == null || e.isJsonNull() ? otherwise : e.getAsString();
        }

        boolean bool(String key, boolean otherwise) {
            JsonElement e = content.get(key);
            return e == null || e.isJsonNull() ? otherwise : e.getAsBoolean();
        }

        int integer(String key, int otherwise) {
            JsonElement e = content.get(key);
            return e == null || e.isJsonNull() ? otherwise : e.getAsInt();
        }
    }

    private final String session = UUID.randomUUID().toString();
    private final String username = System.getProperty("user.name", "lowbit");
    private final byte[] key;
    /**
     * Signatures of the signed messages received lately (the last {@link #HISTORY}): a message whose
     * signature is among them is a replay and is refused, as jupyter_client's Session does with its
     * digest history. A client never sends the same signature twice: each header has a new msg_id.
     */
    private final Map<String, Boolean> seen = new LinkedHashMap<>(1024, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > HISTORY;
        }
    };

    static final int HISTORY = 1 << 16;

    /** {@code key} empty = messages are not signed (the connection file says so). */
    Wire(String key) {
        this.key = key == null ? new byte[0] : key.getBytes(StandardCharsets.UTF_8);
    }

    static String now() {
        return DATE.format(Instant.now());
    }

    /** A new message of {@code type} answering {@code parent} (null for none). */
    Msg message(String type, Msg parent, JsonObject content) {
        JsonObject h = new JsonObject();
        h.addProperty("msg_id", UUID.randomUUID().toString());
        h.addProperty("session", session);
        h.addProperty("username", username);
        h.addProperty("date", now());
        h.addProperty("msg_type", type);
        h.addProperty("version", PROTOCOL_VERSION);
        return new Msg(
                parent == null ? List.of() : parent.identities(),
                h,
                parent == null ? new JsonObject() : parent.header(),
                new JsonObject(),
                content,
                List.of());
    }

    /** Frames to send: identities, delimiter, signature, the four JSON parts, buffers. */
    List<byte[]> encode(Msg m) {
        byte[][] parts = {bytes(m.header()), bytes(m.parent()), bytes(m.metadata()), bytes(m.content())};
        List<byte[]> frames = new ArrayList<>(m.identities());
        frames.add(DELIMITER);
        frames.add(sign(parts).getBytes(StandardCharsets.US_ASCII));
        frames.addAll(Arrays.asList(parts));
        frames.addAll(m.buffers());
        return frames;
    }

    /** Parses received frames; a bad signature, a replay or malformed JSON is an {@link IllegalArgumentException}. */
    Msg decode(List<byte[]> frames) {
        int d = 0;
        while (d < frames.size() && !Arrays.equals(frames.get(d), DELIMITER)) d++;
        if (frames.size() < d + 6) throw new IllegalArgumentException("a message with " + frames.size() + " frames");
        byte[][] parts = {frames.get(d + 2), frames.get(d + 3), frames.get(d + 4), frames.get(d + 5)};
        String signature = new String(frames.get(d + 1), StandardCharsets.US_ASCII);
        if (key.length > 0
                && !MessageDigest.isEqual(
                        sign(parts).getBytes(StandardCharsets.US_ASCII), signature.getBytes(StandardCharsets.US_ASCII)))
            throw new IllegalArgumentException("a message with a bad signature");
        if (key.length > 0) {
            synchronized (seen) {
                if (seen.putIfAbsent(signature, Boolean.TRUE) != null)
                    throw new IllegalArgumentException(
                            "a replayed message (its signature " + signature + " was seen before)");
            }
        }
        return new Msg(
                List.copyOf(frames.subList(0, d)),
                object(parts[0]),
                object(parts[1]),
                object(parts[2]),
                object(parts[3]),
                List.copyOf(frames.subList(d + 6, frames.size())));
    }

    private String sign(byte[][] parts) {
        if (key.length == 0) return "";
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            for (byte[] p : parts) mac.update(p);
            return HexFormat.of().formatHex(mac.doFinal());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available", e);
        }
    }

    private static byte[] bytes(JsonObject o) {
        return GSON.toJson(o).getBytes(StandardCharsets.UTF_8);
    }

    private static JsonObject object(byte[] b) {
        JsonElement e = JsonParser.parseString(new String(b, StandardCharsets.UTF_8));
        return e.isJsonObject() ? e.getAsJsonObject() : new JsonObject();
    }

    /**
     * Any value as JSON that every client parses: maps, lists and arrays recursively, numbers (NaN
     * and infinities become null, as JavaScript's JSON.stringify does), booleans, strings, and
     * anything else by its {@code toString()} — never by reflection.
     */
    static JsonElement json(Object v) {
        return switch (v) {
            case null -> JsonNull.INSTANCE;
            case JsonElement e -> e;
            case Boolean b -> new JsonPrimitive(b);
            case Double d when !Double.isFinite(d) -> JsonNull.INSTANCE;
            case Float f when !Float.isFinite(f) -> JsonNull.INSTANCE;
            case Number n -> new JsonPrimitive(n);
            case CharSequence s -> new JsonPrimitive(s.toString());
            case Map<?, ?> m -> {
                JsonObject o = new JsonObject();
                m.forEach((k, x) -> o.add(String.valueOf(k), json(x)));
                yield o;
            }
            case Iterable<?> it -> {
                JsonArray a = new JsonArray();
                for (Object x : it) a.add(json(x));
                yield a;
            }
            default -> {
                if (v.getClass().isArray()) {
                    JsonArray a = new JsonArray();
                    for (int i = 0; i < Array.getLength(v); i++) a.add(json(Array.get(v, i)));
                    yield a;
                }
                yield new JsonPrimitive(v.toString());
            }
        };
    }

    static JsonObject obj(Object... keyValues) {
        JsonObject o = new JsonObject();
        for (int i = 0; i < keyValues.length; i += 2) o.add((String) keyValues[i], json(keyValues[i + 1]));
        return o;
    }
}
