import type { SimulatedOutcome as _botflow_v1_SimulatedOutcome, SimulatedOutcome__Output as _botflow_v1_SimulatedOutcome__Output } from '../../botflow/v1/SimulatedOutcome';
export interface SimulatedOutcomes {
    'outcomes'?: (_botflow_v1_SimulatedOutcome)[];
}
export interface SimulatedOutcomes__Output {
    'outcomes'?: (_botflow_v1_SimulatedOutcome__Output)[];
}
