export { DEFAULT_ALPHAS, computeRdp, rdpStep } from "./rdp.js";
export { privacySpent, type PrivacySpent } from "./rdp_epsilon.js";
export { gdpDelta, gdpEpsilon, gdpMuPoisson, gdpMuUniform } from "./gdp.js";
export { RDPAccountant, GDPAccountant, createAccountant, type MechanismStep, type HistoryEntry } from "./accountants.js";
export { getNoiseMultiplier, type NoiseMultiplierOptions } from "./noise_multiplier.js";
