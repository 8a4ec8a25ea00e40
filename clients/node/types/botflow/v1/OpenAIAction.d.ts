import type { HistoryMode as _botflow_v1_HistoryMode, HistoryMode__Output as _botflow_v1_HistoryMode__Output } from '../../botflow/v1/HistoryMode';
import type { OutputField as _botflow_v1_OutputField, OutputField__Output as _botflow_v1_OutputField__Output } from '../../botflow/v1/OutputField';
import type { ProviderFallback as _botflow_v1_ProviderFallback, ProviderFallback__Output as _botflow_v1_ProviderFallback__Output } from '../../botflow/v1/ProviderFallback';
export interface OpenAIAction {
    'token'?: (string);
    'prompt'?: (string);
    'history'?: (_botflow_v1_HistoryMode);
    'answerVariable'?: (string);
    'errorVariable'?: (string);
    'model'?: (string);
    'temperature'?: (number | string);
    'maxTokens'?: (number);
    'provider'?: (string);
    'baseUrl'?: (string);
    'timeoutMs'?: (number);
    'maxAttempts'?: (number);
    'maxHistoryMessages'?: (number);
    'providerOptions'?: ({
        [key: string]: string;
    });
    'finishReasonVariable'?: (string);
    'outputs'?: (_botflow_v1_OutputField)[];
    'fallbacks'?: (_botflow_v1_ProviderFallback)[];
    '_temperature'?: "temperature";
    '_maxTokens'?: "maxTokens";
}
export interface OpenAIAction__Output {
    'token'?: (string);
    'prompt'?: (string);
    'history'?: (_botflow_v1_HistoryMode__Output);
    'answerVariable'?: (string);
    'errorVariable'?: (string);
    'model'?: (string);
    'temperature'?: (number);
    'maxTokens'?: (number);
    'provider'?: (string);
    'baseUrl'?: (string);
    'timeoutMs'?: (number);
    'maxAttempts'?: (number);
    'maxHistoryMessages'?: (number);
    'providerOptions'?: ({
        [key: string]: string;
    });
    'finishReasonVariable'?: (string);
    'outputs'?: (_botflow_v1_OutputField__Output)[];
    'fallbacks'?: (_botflow_v1_ProviderFallback__Output)[];
}
