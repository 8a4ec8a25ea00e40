export interface TokenUsage {
    'promptTokens'?: (number);
    'completionTokens'?: (number);
    'totalTokens'?: (number);
}
export interface TokenUsage__Output {
    'promptTokens'?: (number);
    'completionTokens'?: (number);
    'totalTokens'?: (number);
}
