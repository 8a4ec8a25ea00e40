import type { FlowStatus as _botflow_v1_FlowStatus, FlowStatus__Output as _botflow_v1_FlowStatus__Output } from '../../botflow/v1/FlowStatus';
import type { Value as _botflow_v1_Value, Value__Output as _botflow_v1_Value__Output } from '../../botflow/v1/Value';
export interface FlowFinished {
    'status'?: (_botflow_v1_FlowStatus);
    'variables'?: ({
        [key: string]: _botflow_v1_Value;
    });
    'resumeBlockId'?: (string);
    'botSessionId'?: (string);
    'steps'?: (number);
    'botSessionStarted'?: (boolean);
}
export interface FlowFinished__Output {
    'status'?: (_botflow_v1_FlowStatus__Output);
    'variables'?: ({
        [key: string]: _botflow_v1_Value__Output;
    });
    'resumeBlockId'?: (string);
    'botSessionId'?: (string);
    'steps'?: (number);
    'botSessionStarted'?: (boolean);
}
