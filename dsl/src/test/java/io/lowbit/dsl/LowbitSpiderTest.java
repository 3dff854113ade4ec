package io.lowbit.dsl;

import static io.lowbit.dsl.Lowbit.calibrateSpider;
import static io.lowbit.dsl.Lowbit.eval;
import static io.lowbit.dsl.Lowbit.load;
import static io.lowbit.dsl.Lowbit.spider;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.model.Model;
import java.util.List;
import org.junit.jupiter.api.Test;

/** spider() and calibrateSpider() as a notebook says them. */
class LowbitSpiderTest {
    @Test
    void evalGivesAccuracyCountsAndLevelsAndRepeatsFromTheCache() {
        TestData.shared("spider/dev.json");
        try (Model m = load(TestData.stories260K().toString())) {
            Table t = eval(m, spider().limit(5).maxNewTokens(8));
            List<Object> metrics = t.rows().stream().map(r -> r.get(2)).toList();
            assertEquals(List.of("execution accuracy", "errors", "timeouts"), metrics.subList(0, 3), t.toString());
            String task = (String) t.get(0, "task");
            assertTrue(task.contains("15 databases not calibrated on") && task.contains("5 drawn"), task);
            assertEquals(5L, t.get(0, "n"));
            double accuracy = (Double) t.get(0, "value");
            assertTrue(accuracy >= 0 && accuracy <= 1);
            long perLevel = t.rows().stream()
                    .filter(r ->
                            ((String) r.get(1)).startsWith("spider ") && !((String) r.get(1)).startsWith("spider ("))
                    .mapToLong(r -> (Long) r.get(4))
                    .sum();
            assertEquals(5, perLevel, "the levels share out the questions");
            assertEquals(t.rows(), eval(m, spider().limit(5).maxNewTokens(8)).rows(), "cached");

            var all = eval(m, spider().allDatabases().limit(2).maxNewTokens(1));
            assertTrue(((String) all.get(0, "task")).contains("all databases"), all.toString());

            var cal = calibrateSpider(m, 4, 256, 0);
            assertTrue(cal.tokens() <= 4 * 256 && cal.name().startsWith("spider-dev-5-databases"), cal.toString());
        }
    }
}
