package io.lowbit.kernel;

import java.util.List;

/**
 * A cell failed: what the front end shows as {@code ename: evalue} and the traceback lines (plain
 * text with at most a red header, readable on light and dark themes).
 */
final class CellError extends Exception {
    static final String RED = "\u001b[31m";
    static final String RESET = "\u001b[0m";

    final String ename;
    final String evalue;
    final List<String> traceback;

    CellError(String ename, String evalue, List<String> traceback) {
        super(ename + ": " + evalue, null, false, false);
        this.ename = ename;
        this.evalue = evalue == null ? "" : evalue;
        this.traceback = List.copyOf(traceback);
    }

    /** An error with just a header line. */
    static CellError of(String ename, String evalue) {
        return new CellError(ename, evalue, List.of(header(ename, evalue)));
    }

    static String header(String ename, String evalue) {
        return RED + ename + RESET + (evalue == null || evalue.isEmpty() ? "" : ": " + evalue);
    }
}
