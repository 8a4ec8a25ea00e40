export declare const ConditionJoin: {
    readonly CONDITION_JOIN_UNSPECIFIED: "CONDITION_JOIN_UNSPECIFIED";
    readonly CONDITION_JOIN_AND: "CONDITION_JOIN_AND";
    readonly CONDITION_JOIN_OR: "CONDITION_JOIN_OR";
};
export type ConditionJoin = 'CONDITION_JOIN_UNSPECIFIED' | 0 | 'CONDITION_JOIN_AND' | 1 | 'CONDITION_JOIN_OR' | 2;
export type ConditionJoin__Output = typeof ConditionJoin[keyof typeof ConditionJoin];
