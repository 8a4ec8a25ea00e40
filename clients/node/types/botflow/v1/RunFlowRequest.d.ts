import type { Flow as _botflow_v1_Flow, Flow__Output as _botflow_v1_Flow__Output } from '../../botflow/v1/Flow';
import type { Value as _botflow_v1_Value, Value__Output as _botflow_v1_Value__Output } from '../../botflow/v1/Value';
import type { Conversation as _botflow_v1_Conversation, Conversation__Output as _botflow_v1_Conversation__Output } from '../../botflow/v1/Conversation';
import type { Resume as _botflow_v1_Resume, Resume__Output as _botflow_v1_Resume__Output } from '../../botflow/v1/Resume';
import type { Simulation as _botflow_v1_Simulation, Simulation__Output as _botflow_v1_Simulation__Output } from '../../botflow/v1/Simulation';
export interface RunFlowRequest {
    'flow'?: (_botflow_v1_Flow | null);
    'variables'?: ({
        [key: string]: _botflow_v1_Value;
    });
    'conversation'?: (_botflow_v1_Conversation | null);
    'resume'?: (_botflow_v1_Resume | null);
    'maxSteps'?: (number);
    'simulation'?: (_botflow_v1_Simulation | null);
}
export interface RunFlowRequest__Output {
    'flow'?: (_botflow_v1_Flow__Output);
    'variables'?: ({
        [key: string]: _botflow_v1_Value__Output;
    });
    'conversation'?: (_botflow_v1_Conversation__Output);
    'resume'?: (_botflow_v1_Resume__Output);
    'maxSteps'?: (number);
    'simulation'?: (_botflow_v1_Simulation__Output);
}
