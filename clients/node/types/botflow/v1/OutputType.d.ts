export declare const OutputType: {
    readonly OUTPUT_TYPE_UNSPECIFIED: "OUTPUT_TYPE_UNSPECIFIED";
    readonly OUTPUT_TYPE_TEXT: "OUTPUT_TYPE_TEXT";
    readonly OUTPUT_TYPE_NUMBER: "OUTPUT_TYPE_NUMBER";
    readonly OUTPUT_TYPE_LIST: "OUTPUT_TYPE_LIST";
    readonly OUTPUT_TYPE_ONE_OF: "OUTPUT_TYPE_ONE_OF";
};
export type OutputType = 'OUTPUT_TYPE_UNSPECIFIED' | 0 | 'OUTPUT_TYPE_TEXT' | 1 | 'OUTPUT_TYPE_NUMBER' | 2 | 'OUTPUT_TYPE_LIST' | 3 | 'OUTPUT_TYPE_ONE_OF' | 4;
export type OutputType__Output = typeof OutputType[keyof typeof OutputType];
