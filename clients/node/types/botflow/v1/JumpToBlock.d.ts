export interface JumpToBlock {
    'blockId'?: (string);
}
export interface JumpToBlock__Output {
    'blockId'?: (string);
}
