export interface Resume {
    'blockId'?: (string);
    'answer'?: (string);
    'timedOut'?: (boolean);
}
export interface Resume__Output {
    'blockId'?: (string);
    'answer'?: (string);
    'timedOut'?: (boolean);
}
