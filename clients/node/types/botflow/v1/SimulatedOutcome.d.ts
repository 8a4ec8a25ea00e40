import type { SimulatedAnswer as _botflow_v1_SimulatedAnswer, SimulatedAnswer__Output as _botflow_v1_SimulatedAnswer__Output } from '../../botflow/v1/SimulatedAnswer';
import type { SimulatedFailure as _botflow_v1_SimulatedFailure, SimulatedFailure__Output as _botflow_v1_SimulatedFailure__Output } from '../../botflow/v1/SimulatedFailure';
import type { SimulatedHttpResponse as _botflow_v1_SimulatedHttpResponse, SimulatedHttpResponse__Output as _botflow_v1_SimulatedHttpResponse__Output } from '../../botflow/v1/SimulatedHttpResponse';
export interface SimulatedOutcome {
    'answer'?: (_botflow_v1_SimulatedAnswer | null);
    'failure'?: (_botflow_v1_SimulatedFailure | null);
    'httpResponse'?: (_botflow_v1_SimulatedHttpResponse | null);
    'kind'?: "answer" | "failure" | "httpResponse";
}
export interface SimulatedOutcome__Output {
    'answer'?: (_botflow_v1_SimulatedAnswer__Output);
    'failure'?: (_botflow_v1_SimulatedFailure__Output);
    'httpResponse'?: (_botflow_v1_SimulatedHttpResponse__Output);
}
