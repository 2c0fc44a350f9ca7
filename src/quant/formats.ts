// Registers the built-in formats (int8, nf4, fp4, and GGUF's q8_0/q4_0/q4_1/q4_k/q6_k); import for the side effect.
import "./int8.js";
import "./four_bit.js";
import "./ggml_formats.js";
