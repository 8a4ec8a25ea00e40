import type { Warning as _botflow_v1_Warning, Warning__Output as _botflow_v1_Warning__Output } from '../../botflow/v1/Warning';
export interface WarningRaised {
    'warning'?: (_botflow_v1_Warning | null);
}
export interface WarningRaised__Output {
    'warning'?: (_botflow_v1_Warning__Output);
}
