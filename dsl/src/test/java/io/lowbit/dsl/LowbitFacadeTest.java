package io.lowbit.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.Instruction;
import java.lang.classfile.MethodModel;
import java.lang.classfile.Opcode;
import java.lang.classfile.instruction.BranchInstruction;
import java.lang.classfile.instruction.InvokeInstruction;
import java.lang.classfile.instruction.LookupSwitchInstruction;
import java.lang.classfile.instruction.ReturnInstruction;
import java.lang.classfile.instruction.StackInstruction;
import java.lang.classfile.instruction.StoreInstruction;
import java.lang.classfile.instruction.TableSwitchInstruction;
import java.lang.classfile.instruction.ThrowInstruction;
import java.lang.constant.ConstantDescs;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Lowbit is a facade of one-call verbs, as JUnit's Assertions is: read from its compiled code, every
 * public verb is one statement, straight-line code whose calls all feed the one it returns (or the
 * last, for a void verb), with no branch, loop, local variable or throw of its own; the work and
 * the types live in the classes beside it.
 */
class LowbitFacadeTest {
    /** The quantize overload that routes TESSERAQ to its options; its body is reshaped on another branch. */
    private static final Set<String> NOT_YET = Set.of();

    @Test
    void everyPublicVerbIsOneCallWithNoControlFlowOrLocals() throws IOException {
        ClassModel lowbit;
        try (InputStream in = Lowbit.class.getResourceAsStream("Lowbit.class")) {
            lowbit = ClassFile.of().parse(in.readAllBytes());
        }
        List<String> thick = new ArrayList<>();
        int verbs = 0;
        for (MethodModel m : lowbit.methods()) {
            int flags = m.flags().flagsMask();
            if ((flags & ClassFile.ACC_PUBLIC) == 0 || (flags & ClassFile.ACC_STATIC) == 0) continue;
            String descriptor = m.methodTypeSymbol().displayDescriptor();
            String name = m.methodName().stringValue() + descriptor.substring(0, descriptor.indexOf(')') + 1);
            if (NOT_YET.contains(name)) continue;
            verbs++;
            int calls = 0, returns = 0;
            List<String> work = new ArrayList<>();
            List<Instruction> code = m.code().orElseThrow().elementList().stream()
                    .filter(e -> e instanceof Instruction)
                    .map(e -> (Instruction) e)
                    .toList();
            for (int k = 0; k < code.size(); k++) {
                // a second statement shows as a result dropped, or a void call that is not the last one
                if (code.get(k) instanceof InvokeInstruction i
                        && !i.name().equalsString(ConstantDescs.INIT_NAME)
                        && i.typeSymbol().returnType().equals(ConstantDescs.CD_void)
                        && !(k + 1 < code.size() && code.get(k + 1) instanceof ReturnInstruction))
                    work.add("a statement before the last");
                switch (code.get(k)) {
                    case InvokeInstruction i -> calls++;
                    case ReturnInstruction r -> returns++;
                    case BranchInstruction b -> work.add("a branch");
                    case TableSwitchInstruction s -> work.add("a switch");
                    case LookupSwitchInstruction s -> work.add("a switch");
                    case StoreInstruction s -> work.add("a local variable");
                    case ThrowInstruction t -> work.add("a throw");
                    case StackInstruction s
                    when s.opcode() == Opcode.POP || s.opcode() == Opcode.POP2 -> work.add("a result dropped");
                    default -> {}
                }
            }
            if (calls == 0) work.add("no call");
            if (returns != 1) work.add(returns + " returns");
            if (!work.isEmpty()) thick.add(name + ": " + work);
        }
        assertTrue(verbs > 40, "the verbs were found: " + verbs);
        assertEquals(List.of(), thick, "verbs doing work of their own instead of handing it on");
    }

    @Test
    void theFacadeHoldsNoTypesAndNoState() {
        assertEquals(0, Lowbit.class.getDeclaredClasses().length, "types a verb returns live in files of their own");
        for (Field f : Lowbit.class.getDeclaredFields()) {
            int mods = f.getModifiers();
            assertTrue(
                    Modifier.isPublic(mods) && Modifier.isStatic(mods) && Modifier.isFinal(mods),
                    f.getName() + " is state; only constants belong in the facade");
        }
    }
}
