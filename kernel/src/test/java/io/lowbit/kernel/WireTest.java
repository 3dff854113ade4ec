package io.lowbit.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/** The wire format: frames, signatures, timestamps, and values that JSON cannot carry as they are. */
class WireTest {
    @Test
    void theSignatureIsHmacSha256OfTheFourJsonParts() throws Exception {
        Wire w = new Wire("secret");
        List<byte[]> frames = w.encode(w.message("status", null, Wire.obj("execution_state", "idle")));
        assertEquals("<IDS|MSG>", new String(frames.get(0), StandardCharsets.US_ASCII));
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec("secret".getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        for (int i = 2; i < 6; i++) mac.update(frames.get(i));
        assertEquals(HexFormat.of().formatHex(mac.doFinal()), new String(frames.get(1), StandardCharsets.US_ASCII));
    }

    @Test
    void aMessageRoundTripsAndATamperedOneIsRefused() {
        Wire w = new Wire("k");
        var sent = w.message("execute_request", null, Wire.obj("code", "1 + 1"));
        List<byte[]> frames = new ArrayList<>(List.of("client-id".getBytes(StandardCharsets.UTF_8)));
        frames.addAll(w.encode(sent));
        Wire.Msg got = w.decode(frames);
        assertEquals("execute_request", got.type());
        assertEquals("1 + 1", got.str("code", null));
        assertEquals("client-id", new String(got.identities().get(0), StandardCharsets.UTF_8));
        frames.set(frames.size() - 1, "{\"code\":\"System.exit(0)\"}".getBytes(StandardCharsets.UTF_8));
        assertThrows(IllegalArgumentException.class, () -> w.decode(frames));
    }

    @Test
    void aReplayedSignedMessageIsRefusedAndAnUnsignedOneIsNot() {
        Wire w = new Wire("k");
        List<byte[]> frames = w.encode(w.message("execute_request", null, Wire.obj("code", "n++")));
        assertEquals("n++", w.decode(frames).str("code", null));
        var e = assertThrows(IllegalArgumentException.class, () -> w.decode(frames));
        assertTrue(e.getMessage().contains("replayed"), e.getMessage());
        assertEquals(
                "execute_request",
                w.decode(w.encode(w.message("execute_request", null, Wire.obj("code", "n++"))))
                        .type()); // the same request again, as a new message, is welcome
        Wire unsigned = new Wire("");
        List<byte[]> plain = unsigned.encode(unsigned.message("kernel_info_request", null, new JsonObject()));
        unsigned.decode(plain);
        assertEquals("kernel_info_request", unsigned.decode(plain).type()); // no signature, nothing to remember
    }

    @Test
    void theReplayHistoryForgetsTheOldestBeyondItsSize() {
        Wire w = new Wire("k");
        List<byte[]> first = w.encode(w.message("kernel_info_request", null, new JsonObject()));
        w.decode(first);
        for (int i = 0; i < Wire.HISTORY; i++)
            w.decode(w.encode(w.message("kernel_info_request", null, new JsonObject())));
        assertEquals("kernel_info_request", w.decode(first).type()); // bounded memory: the oldest was forgotten
    }

    @Test
    void datesAreIso8601WithMicrosecondsInUtc() {
        assertTrue(Wire.now().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z"), Wire.now());
    }

    @Test
    void nanInfinityAndTimeValuesBecomeValidJson() {
        JsonObject o = Wire.obj(
                "nan",
                Double.NaN,
                "inf",
                Float.NEGATIVE_INFINITY,
                "day",
                LocalDate.of(2026, 11, 23),
                "nested",
                Map.of("xs", new double[] {1.5, Double.NaN}));
        assertEquals("{\"nan\":null,\"inf\":null,\"day\":\"2026-11-23\",\"nested\":{\"xs\":[1.5,null]}}", o.toString());
    }

    @Test
    void utf8IsNeverSplitInsideACharacter() {
        byte[] e = "é".getBytes(StandardCharsets.UTF_8); // 2 bytes
        byte[] euro = "€".getBytes(StandardCharsets.UTF_8); // 3 bytes
        assertEquals(1, Iopub.completeUtf8(new byte[] {'a', e[0]}));
        assertEquals(3, Iopub.completeUtf8(new byte[] {'a', e[0], e[1]}));
        assertEquals(1, Iopub.completeUtf8(new byte[] {'a', euro[0], euro[1]}));
        assertEquals(4, Iopub.completeUtf8(new byte[] {'a', euro[0], euro[1], euro[2]}));
    }
}
