import type { ErrorKind as _botflow_v1_ErrorKind, ErrorKind__Output as _botflow_v1_ErrorKind__Output } from '../../botflow/v1/ErrorKind';
export interface ProviderAttempt {
    'provider'?: (string);
    'model'?: (string);
    'attempts'?: (number);
    'errorKind'?: (_botflow_v1_ErrorKind);
    'error'?: (string);
}
export interface ProviderAttempt__Output {
    'provider'?: (string);
    'model'?: (string);
    'attempts'?: (number);
    'errorKind'?: (_botflow_v1_ErrorKind__Output);
    'error'?: (string);
}
