export { DEFAULT_ALPHAS, computeRdp, rdpStep } from "./rdp.js";
export { privacySpent, type PrivacySpent } from "./rdp_epsilon.js";
export { gdpDelta, gdpEpsilon, gdpMuPoisson, gdpMuUniform } from "./gdp.js";
export { RDPAccountant, GDPAccountant, createAccountant, type MechanismStep, type HistoryEntry } from "./accountants.js";
export { getNoiseMultiplier, type NoiseMultiplierOptions } from "./noise_multiplier.js";
export { perSampleGradients, sampleNormsSquared, linearPerSampleGrads, linearGhostNormsSquared, type SampleGrads } from "./per_sample.js";
export { PrivateGradients, clipFactors, type DpClipping, type PrivateGradOptions } from "./private_grads.js";
export { cryptoGaussian, seededGaussian, type GaussianSource } from "./noise.js";
