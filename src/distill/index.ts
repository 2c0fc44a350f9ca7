// Public surface of src/distill: losses, schedules, student initialisation, teacher cache, objective.
export * from "./losses.js";
export * from "./schedules.js";
export * from "./student.js";
export * from "./teacher_cache.js";
export * from "./objective.js";
export * from "./distiller.js";
