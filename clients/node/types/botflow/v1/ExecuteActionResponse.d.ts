import type { ActionResult as _botflow_v1_ActionResult, ActionResult__Output as _botflow_v1_ActionResult__Output } from '../../botflow/v1/ActionResult';
import type { Value as _botflow_v1_Value, Value__Output as _botflow_v1_Value__Output } from '../../botflow/v1/Value';
import type { Warning as _botflow_v1_Warning, Warning__Output as _botflow_v1_Warning__Output } from '../../botflow/v1/Warning';
export interface ExecuteActionResponse {
    'result'?: (_botflow_v1_ActionResult | null);
    'variables'?: ({
        [key: string]: _botflow_v1_Value;
    });
    'warnings'?: (_botflow_v1_Warning)[];
}
export interface ExecuteActionResponse__Output {
    'result'?: (_botflow_v1_ActionResult__Output);
    'variables'?: ({
        [key: string]: _botflow_v1_Value__Output;
    });
    'warnings'?: (_botflow_v1_Warning__Output)[];
}
