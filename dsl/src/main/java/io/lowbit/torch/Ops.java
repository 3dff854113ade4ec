package io.lowbit.torch;

/** The ATen operators the typed API uses, each looked up once. Schemas hold for libtorch 1.13 and 2.x. */
final class Ops {
    private Ops() {}

    private static Op op(String name, String overload) {
        return Op.of("aten::" + name, overload);
    }

    static final Op ADD = op("add", "Tensor"), ADD_S = op("add", "Scalar"), ADD_ = op("add_", "Tensor");
    static final Op SUB = op("sub", "Tensor"), SUB_S = op("sub", "Scalar");
    static final Op MUL = op("mul", "Tensor"), MUL_S = op("mul", "Scalar"), MUL_S_ = op("mul_", "Scalar");
    static final Op DIV = op("div", "Tensor"), DIV_S = op("div", "Scalar");
    static final Op POW = op("pow", "Tensor_Tensor"), POW_S = op("pow", "Tensor_Scalar");
    static final Op NEG = op("neg", ""), ABS = op("abs", ""), SIGN = op("sign", ""), SQRT = op("sqrt", "");
    static final Op RSQRT = op("rsqrt", ""), EXP = op("exp", ""), LOG = op("log", ""), SQUARE = op("square", "");
    static final Op RECIPROCAL = op("reciprocal", ""), SIN = op("sin", ""), COS = op("cos", "");
    static final Op SIGMOID = op("sigmoid", ""),
            TANH = op("tanh", ""),
            FLOOR = op("floor", ""),
            ROUND = op("round", "");
    static final Op CLAMP = op("clamp", ""), CLAMP_T = op("clamp", "Tensor");
    static final Op MINIMUM = op("minimum", ""), MAXIMUM = op("maximum", "");
    static final Op COPY_ = op("copy_", ""), FILL_ = op("fill_", "Scalar"), ZERO_ = op("zero_", "");
    static final Op EQ = op("eq", "Tensor"), EQ_S = op("eq", "Scalar"), NE_S = op("ne", "Scalar");
    static final Op LT = op("lt", "Tensor"), LT_S = op("lt", "Scalar"), LE_S = op("le", "Scalar");
    static final Op GT = op("gt", "Tensor"), GT_S = op("gt", "Scalar"), GE_S = op("ge", "Scalar");
    static final Op LOGICAL_NOT = op("logical_not", ""),
            LOGICAL_AND = op("logical_and", ""),
            LOGICAL_OR = op("logical_or", "");
    static final Op ISNAN = op("isnan", ""), ISFINITE = op("isfinite", "");
    static final Op SUM = op("sum", ""), SUM_DIM = op("sum", "dim_IntList");
    static final Op MEAN = op("mean", ""), MEAN_DIM = op("mean", "dim");
    static final Op AMAX = op("amax", ""), AMIN = op("amin", "");
    static final Op MAX_ALL = op("max", ""),
            MIN_ALL = op("min", ""),
            MAX_DIM = op("max", "dim"),
            MIN_DIM = op("min", "dim");
    static final Op ARGMAX = op("argmax", ""), CUMSUM = op("cumsum", ""), TOPK = op("topk", ""), SORT = op("sort", "");
    static final Op INDEX_SELECT = op("index_select", ""), GATHER = op("gather", "");
    static final Op SCATTER = op("scatter", "src"),
            SCATTER_V = op("scatter", "value"),
            SCATTER_ADD = op("scatter_add", "");
    static final Op MASKED_FILL = op("masked_fill", "Scalar"), WHERE = op("where", "self");
    static final Op TRIU = op("triu", ""), TRIL = op("tril", ""), DIAGONAL = op("diagonal", "");
    static final Op VIEW = op("view", ""), RESHAPE = op("reshape", ""), PERMUTE = op("permute", "");
    static final Op TRANSPOSE = op("transpose", "int"), T = op("t", ""), CONTIGUOUS = op("contiguous", "");
    static final Op NARROW = op("narrow", ""), SELECT = op("select", "int"), UNSQUEEZE = op("unsqueeze", "");
    static final Op SQUEEZE = op("squeeze", "dim"), FLATTEN = op("flatten", "using_ints"), EXPAND = op("expand", "");
    static final Op CLONE = op("clone", ""), DETACH = op("detach", "");
    static final Op CAT = op("cat", ""), STACK = op("stack", "");
    static final Op TO_DTYPE = op("to", "dtype"), TO_DEVICE = op("to", "device");
    static final Op MATMUL = op("matmul", ""), MM = op("mm", ""), BMM = op("bmm", ""), LINEAR = op("linear", "");
    static final Op SOFTMAX = op("softmax", "int"), LOG_SOFTMAX = op("log_softmax", "int");
    static final Op SILU = op("silu", ""), RELU = op("relu", ""), EMBEDDING = op("embedding", "");
    static final Op CROSS_ENTROPY = op("cross_entropy_loss", "");
    static final Op SDPA = op("scaled_dot_product_attention", "");
    static final Op CHOLESKY_EX = op("linalg_cholesky_ex", ""), CHOLESKY_INVERSE = op("cholesky_inverse", "");
    static final Op SOLVE_TRIANGULAR = op("linalg_solve_triangular", "");

    static final Op ZEROS = op("zeros", ""), ONES = op("ones", ""), FULL = op("full", "");
    static final Op ARANGE = op("arange", "start_step"), RANDN = op("randn", ""), RAND = op("rand", "");
}
