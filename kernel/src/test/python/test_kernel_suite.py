"""The standard Jupyter kernel test suite (python3-jupyter-kernel-test) against the Lowbit kernel."""
import unittest

import jupyter_kernel_test


class LowbitKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "lowbit"
    language_name = "java"
    file_extension = ".jshell"

    code_hello_world = 'System.out.println("hello, world");'
    code_stderr = 'System.err.println("an error line");'
    completion_samples = [
        {"text": "Integer.MAX_VA", "matches": {"MAX_VALUE"}},
        {"text": "tinystoriesTr", "matches": {"tinystoriesTrain()"}},
    ]
    complete_code_samples = ["1 + 1", "int x = 1;", "for (int i = 0; i < 2; i++) { }", "%jvm"]
    incomplete_code_samples = ["for (int i = 0; i < 2; i++) {", "int f(int a) {", 'String s = """\nabc']
    invalid_code_samples = ["1 + )", "}"]
    code_generate_error = 'throw new IllegalStateException("boom");'
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"a" + 1', "result": "a1"},
        {"code": "bits(4).bits()", "result": "4"},
    ]
    code_display_data = [
        {"code": 'display(Table.of("t", List.of("a"), List.of(List.of(1))));', "mime": "text/html"},
        {"code": 'display(lines("t", "x", "y", List.of(1, 2), Map.of("s", List.of(3, 4))));', "mime": "image/png"},
    ]
    code_history_pattern = "6 * 7*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "load"
    code_clear_output = "clearOutput(false);"
    code_page_something = "quantize?"


if __name__ == "__main__":
    unittest.main()
