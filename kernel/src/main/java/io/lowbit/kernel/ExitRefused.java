package io.lowbit.kernel;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.lang.classfile.Opcode;
import java.lang.classfile.constantpool.MemberRefEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.classfile.instruction.InvokeDynamicInstruction;
import java.lang.classfile.instruction.InvokeInstruction;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.DirectMethodHandleDesc;
import java.lang.constant.DirectMethodHandleDesc.Kind;
import java.lang.constant.DynamicCallSiteDesc;
import java.lang.constant.MethodHandleDesc;
import java.lang.constant.MethodTypeDesc;
import java.util.Arrays;

/**
 * What a cell gets instead of ending the kernel. Snippet classes are rewritten as JShell loads them:
 * calls to {@code System.exit}, {@code Runtime.exit} and {@code Runtime.halt} (direct, in lambdas and
 * methods, or as method references) go to the static methods here, which throw. The JDK has no
 * other way to refuse an exit since the SecurityManager is gone (JEP 486, JDK 24). Reflection and
 * method handles looked up while a cell runs, and code in added jars, still reach the real methods.
 *
 * <p>Public because rewritten snippet code, in JShell's class loader, calls it.
 */
public final class ExitRefused extends RuntimeException {
    private static final ClassDesc SELF = ClassDesc.of(ExitRefused.class.getName());
    private static final ClassDesc SYSTEM = ClassDesc.of("java.lang.System");
    private static final ClassDesc RUNTIME = ClassDesc.of("java.lang.Runtime");
    private static final MethodTypeDesc INT_TO_VOID = MethodTypeDesc.of(ConstantDescs.CD_void, ConstantDescs.CD_int);
    private static final MethodTypeDesc RUNTIME_INT_TO_VOID =
            MethodTypeDesc.of(ConstantDescs.CD_void, RUNTIME, ConstantDescs.CD_int);

    private ExitRefused(String call) {
        super(call + " was refused: it would end the kernel and every variable in it. To start afresh, "
                + "restart the kernel from the notebook (Kernel > Restart).");
        StackTraceElement[] trace = getStackTrace();
        int from = 0;
        while (from < trace.length && trace[from].getClassName().equals(ExitRefused.class.getName())) from++;
        setStackTrace(Arrays.copyOfRange(trace, from, trace.length)); // the first frame is the cell's call
    }

    public static void systemExit(int status) {
        throw new ExitRefused("System.exit(" + status + ")");
    }

    public static void runtimeExit(Runtime runtime, int status) {
        throw new ExitRefused("Runtime.exit(" + status + ")");
    }

    public static void runtimeHalt(Runtime runtime, int status) {
        throw new ExitRefused("Runtime.halt(" + status + ")");
    }

    /** The class file with every reference to the three methods redirected here; unchanged when it has none. */
    static byte[] rewrite(byte[] classFile) {
        ClassFile cf = ClassFile.of();
        ClassModel model = cf.parse(classFile);
        boolean mentions = false;
        for (PoolEntry e : model.constantPool()) {
            if (e instanceof MemberRefEntry m
                    && replacement(m.owner().asSymbol(), m.name().stringValue()) != null) {
                mentions = true;
                break;
            }
        }
        if (!mentions) return classFile; // nearly every snippet: no need to write it again
        CodeTransform redirect = (code, element) -> {
            switch (element) {
                case InvokeInstruction i
                when isExit(i) ->
                    code.invokestatic(
                            SELF,
                            replacement(i.owner().asSymbol(), i.name().stringValue()),
                            type(i.owner().asSymbol()));
                case InvokeDynamicInstruction d when refersToExit(d) -> code.invokedynamic(redirect(d));
                default -> code.with(element);
            }
        };
        return cf.transformClass(model, ClassTransform.transformingMethodBodies(redirect));
    }

    private static boolean isExit(InvokeInstruction i) {
        ClassDesc owner = i.owner().asSymbol();
        return replacement(owner, i.name().stringValue()) != null
                && i.typeSymbol().equals(INT_TO_VOID)
                && i.opcode() == (owner.equals(SYSTEM) ? Opcode.INVOKESTATIC : Opcode.INVOKEVIRTUAL);
    }

    /** A method reference ({@code System::exit}) is a method handle among the call site's bootstrap arguments. */
    private static boolean refersToExit(InvokeDynamicInstruction d) {
        return d.bootstrapArgs().stream().anyMatch(a -> a instanceof DirectMethodHandleDesc h && isExit(h));
    }

    private static DynamicCallSiteDesc redirect(InvokeDynamicInstruction d) {
        ConstantDesc[] args = d.bootstrapArgs().toArray(ConstantDesc[]::new);
        for (int k = 0; k < args.length; k++) {
            if (args[k] instanceof DirectMethodHandleDesc h && isExit(h)) // a static stand-in takes the receiver first
            args[k] = MethodHandleDesc.ofMethod(
                    Kind.STATIC, SELF, replacement(h.owner(), h.methodName()), type(h.owner()));
        }
        return DynamicCallSiteDesc.of(d.bootstrapMethod(), d.name().stringValue(), d.typeSymbol(), args);
    }

    private static boolean isExit(DirectMethodHandleDesc h) {
        return replacement(h.owner(), h.methodName()) != null
                && h.invocationType().equals(type(h.owner()))
                && h.kind() == (h.owner().equals(SYSTEM) ? Kind.STATIC : Kind.VIRTUAL);
    }

    /** The static method here that stands in for {@code owner.name}, or null when it is none of the three. */
    private static String replacement(ClassDesc owner, String name) {
        if (owner.equals(SYSTEM) && name.equals("exit")) return "systemExit";
        if (owner.equals(RUNTIME) && name.equals("exit")) return "runtimeExit";
        if (owner.equals(RUNTIME) && name.equals("halt")) return "runtimeHalt";
        return null;
    }

    private static MethodTypeDesc type(ClassDesc owner) {
        return owner.equals(SYSTEM) ? INT_TO_VOID : RUNTIME_INT_TO_VOID;
    }
}
