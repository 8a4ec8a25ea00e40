import type { SimulatedOutcomes as _botflow_v1_SimulatedOutcomes, SimulatedOutcomes__Output as _botflow_v1_SimulatedOutcomes__Output } from '../../botflow/v1/SimulatedOutcomes';
export interface Simulation {
    'blocks'?: ({
        [key: string]: _botflow_v1_SimulatedOutcomes;
    });
    'kinds'?: ({
        [key: string]: _botflow_v1_SimulatedOutcomes;
    });
}
export interface Simulation__Output {
    'blocks'?: ({
        [key: string]: _botflow_v1_SimulatedOutcomes__Output;
    });
    'kinds'?: ({
        [key: string]: _botflow_v1_SimulatedOutcomes__Output;
    });
}
