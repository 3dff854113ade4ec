package io.lowbit.torch;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * Frees every tensor made inside it on the current thread when it closes, except those passed to
 * {@link #keep}, which move to the enclosing scope (or to nobody).
 *
 * <pre>{@code
 * try (var scope = Scope.open()) {
 *   Tensor t = a.matmul(b).relu();     // intermediates die with the scope
 *   return scope.keep(t.sum());        // the result survives
 * }
 * }</pre>
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<Scope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final Set<Tensor> owned = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Thread thread = Thread.currentThread();
    private boolean closed;

    private Scope() {}

    public static Scope open() {
        Scope s = new Scope();
        STACK.get().push(s);
        return s;
    }

    /** The innermost open scope of this thread, or null. */
    static Scope current() {
        return STACK.get().peek();
    }

    void adopt(Tensor t) {
        owned.add(t);
        t.owner = this;
    }

    void forget(Tensor t) {
        owned.remove(t);
    }

    /** Lets {@code t} outlive this scope: it moves to the enclosing scope, if any. */
    public <T extends Tensor> T keep(T t) {
        if (t == null) return null;
        if (t.owner == this) {
            owned.remove(t);
            t.owner = null;
            Scope parent = parentOf(this);
            if (parent != null) parent.adopt(t);
        }
        return t;
    }

    private static Scope parentOf(Scope s) {
        boolean found = false;
        for (Scope x : STACK.get()) { // iterates innermost first
            if (found) return x;
            if (x == s) found = true;
        }
        return null;
    }

    /** Tensors this scope will free. */
    public int size() {
        return owned.size();
    }

    @Override
    public void close() {
        if (closed) return;
        if (Thread.currentThread() != thread)
            throw new IllegalStateException("a Scope must be closed on the thread that opened it");
        closed = true;
        ArrayDeque<Scope> stack = STACK.get();
        stack.remove(this);
        Tensor[] all = owned.toArray(new Tensor[0]);
        owned.clear();
        for (Tensor t : all) {
            t.owner = null;
            t.close();
        }
    }
}
