/** Security counters that services report; Prometheus (observability/) implements them. */
export interface SecurityMetrics {
  login(outcome: 'success' | 'failure'): void
  mfaVerification(method: string, outcome: 'success' | 'failure'): void
  rateLimited(limit: string): void
}
