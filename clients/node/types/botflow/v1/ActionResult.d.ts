import type { ActionOutcome as _botflow_v1_ActionOutcome, ActionOutcome__Output as _botflow_v1_ActionOutcome__Output } from '../../botflow/v1/ActionOutcome';
import type { ErrorKind as _botflow_v1_ErrorKind, ErrorKind__Output as _botflow_v1_ErrorKind__Output } from '../../botflow/v1/ErrorKind';
import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from '../../google/protobuf/Duration';
import type { TokenUsage as _botflow_v1_TokenUsage, TokenUsage__Output as _botflow_v1_TokenUsage__Output } from '../../botflow/v1/TokenUsage';
import type { ProviderAttempt as _botflow_v1_ProviderAttempt, ProviderAttempt__Output as _botflow_v1_ProviderAttempt__Output } from '../../botflow/v1/ProviderAttempt';
export interface ActionResult {
    'outcome'?: (_botflow_v1_ActionOutcome);
    'errorKind'?: (_botflow_v1_ErrorKind);
    'error'?: (string);
    'answer'?: (string);
    'attempts'?: (number);
    'elapsed'?: (_google_protobuf_Duration | null);
    'usage'?: (_botflow_v1_TokenUsage | null);
    'model'?: (string);
    'httpStatus'?: (number);
    'historyMessagesOmitted'?: (number);
    'finishReason'?: (string);
    'provider'?: (string);
    'fallbackIndex'?: (number);
    'providerAttempts'?: (_botflow_v1_ProviderAttempt)[];
    'simulated'?: (boolean);
}
export interface ActionResult__Output {
    'outcome'?: (_botflow_v1_ActionOutcome__Output);
    'errorKind'?: (_botflow_v1_ErrorKind__Output);
    'error'?: (string);
    'answer'?: (string);
    'attempts'?: (number);
    'elapsed'?: (_google_protobuf_Duration__Output);
    'usage'?: (_botflow_v1_TokenUsage__Output);
    'model'?: (string);
    'httpStatus'?: (number);
    'historyMessagesOmitted'?: (number);
    'finishReason'?: (string);
    'provider'?: (string);
    'fallbackIndex'?: (number);
    'providerAttempts'?: (_botflow_v1_ProviderAttempt__Output)[];
    'simulated'?: (boolean);
}
