// Imports every method folder once so that each registers itself with the registry.
import "./lora/index.js";
import "./ia3/index.js";
import "./prompt/index.js";
import "./ln_tuning/index.js";
import "./loha/index.js";
import "./lokr/index.js";
import "./vera/index.js";
import "./adalora/index.js";
