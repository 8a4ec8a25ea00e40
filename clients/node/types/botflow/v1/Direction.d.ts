export declare const Direction: {
    readonly DIRECTION_UNSPECIFIED: "DIRECTION_UNSPECIFIED";
    readonly DIRECTION_RECEIVED: "DIRECTION_RECEIVED";
    readonly DIRECTION_SENT: "DIRECTION_SENT";
};
export type Direction = 'DIRECTION_UNSPECIFIED' | 0 | 'DIRECTION_RECEIVED' | 1 | 'DIRECTION_SENT' | 2;
export type Direction__Output = typeof Direction[keyof typeof Direction];
