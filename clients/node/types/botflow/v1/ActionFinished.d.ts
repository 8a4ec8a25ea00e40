import type { ActionResult as _botflow_v1_ActionResult, ActionResult__Output as _botflow_v1_ActionResult__Output } from '../../botflow/v1/ActionResult';
export interface ActionFinished {
    'result'?: (_botflow_v1_ActionResult | null);
}
export interface ActionFinished__Output {
    'result'?: (_botflow_v1_ActionResult__Output);
}
