export declare const ActionOutcome: {
    readonly ACTION_OUTCOME_UNSPECIFIED: "ACTION_OUTCOME_UNSPECIFIED";
    readonly ACTION_OUTCOME_SUCCEEDED: "ACTION_OUTCOME_SUCCEEDED";
    readonly ACTION_OUTCOME_FAILED: "ACTION_OUTCOME_FAILED";
};
export type ActionOutcome = 'ACTION_OUTCOME_UNSPECIFIED' | 0 | 'ACTION_OUTCOME_SUCCEEDED' | 1 | 'ACTION_OUTCOME_FAILED' | 2;
export type ActionOutcome__Output = typeof ActionOutcome[keyof typeof ActionOutcome];
