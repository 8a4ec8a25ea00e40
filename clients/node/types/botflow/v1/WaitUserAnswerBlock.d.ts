export interface WaitUserAnswerBlock {
    'answerVariable'?: (string);
    'timeoutNext'?: (string);
}
export interface WaitUserAnswerBlock__Output {
    'answerVariable'?: (string);
    'timeoutNext'?: (string);
}
