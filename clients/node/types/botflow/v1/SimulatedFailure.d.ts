import type { ErrorKind as _botflow_v1_ErrorKind, ErrorKind__Output as _botflow_v1_ErrorKind__Output } from '../../botflow/v1/ErrorKind';
export interface SimulatedFailure {
    'kind'?: (_botflow_v1_ErrorKind);
    'detail'?: (string);
    'attempts'?: (number);
}
export interface SimulatedFailure__Output {
    'kind'?: (_botflow_v1_ErrorKind__Output);
    'detail'?: (string);
    'attempts'?: (number);
}
