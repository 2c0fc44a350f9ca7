// Registers the built-in formats (int8, nf4, fp4); import for the side effect.
import "./int8.js";
import "./four_bit.js";
