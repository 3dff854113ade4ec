package io.lowbit.torch;

/**
 * Where tensors live: the CPU or one CUDA device. The default is cuda:0 when a GPU is present and
 * the bridge was built with CUDA, else cpu; {@code -Dlowbit.device=cpu}, {@code LOWBIT_DEVICE=cuda:1}
 * or {@link #setDefault} override it.
 */
public record Device(Type type, int index) {
    public enum Type {
        CPU,
        CUDA
    }

    public static final Device CPU = new Device(Type.CPU, -1);

    private static volatile Device defaultDevice;

    public Device {
        if (type == Type.CPU && index != -1) throw new IllegalArgumentException("cpu has no device index");
        if (type == Type.CUDA && index < 0) throw new IllegalArgumentException("cuda device index must be >= 0");
    }

    public static Device cpu() {
        return CPU;
    }

    public static Device cuda(int index) {
        return new Device(Type.CUDA, index);
    }

    public static Device cuda() {
        return cuda(0);
    }

    public boolean isCuda() {
        return type == Type.CUDA;
    }

    /** Parses "cpu", "cuda", "cuda:1". */
    public static Device parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) return CPU;
        if (t.equals("cuda") || t.equals("gpu")) return cuda(0);
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("unknown device '" + text + "' (use cpu, cuda or cuda:N)");
    }

    /** The device new tensors go to unless a call names another. */
    public static Device defaultDevice() {
        Device d = defaultDevice;
        if (d == null) {
            synchronized (Device.class) {
                if (defaultDevice == null) defaultDevice = chooseDefault();
                d = defaultDevice;
            }
        }
        return d;
    }

    public static void setDefault(Device device) {
        if (device.isCuda() && device.index() >= Cuda.deviceCount())
            throw new TorchException(
                    "cannot use " + device + ": this machine has " + Cuda.deviceCount() + " CUDA devices");
        defaultDevice = device;
    }

    private static Device chooseDefault() {
        String asked = System.getProperty("lowbit.device");
        if (asked == null || asked.isBlank()) asked = System.getenv("LOWBIT_DEVICE");
        if (asked != null && !asked.isBlank()) {
            Device d = parse(asked);
            if (d.isCuda() && d.index() >= Cuda.deviceCount())
                throw new TorchException("lowbit.device/LOWBIT_DEVICE asks for " + d + ", but this machine has "
                        + Cuda.deviceCount() + " CUDA devices");
            return d;
        }
        return Cuda.deviceCount() > 0 ? cuda(0) : CPU;
    }

    @Override
    public String toString() {
        return type == Type.CPU ? "cpu" : "cuda:" + index;
    }
}
