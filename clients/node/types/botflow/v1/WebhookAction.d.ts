import type { HttpMethod as _botflow_v1_HttpMethod, HttpMethod__Output as _botflow_v1_HttpMethod__Output } from '../../botflow/v1/HttpMethod';
import type { ResponseMapping as _botflow_v1_ResponseMapping, ResponseMapping__Output as _botflow_v1_ResponseMapping__Output } from '../../botflow/v1/ResponseMapping';
export interface WebhookAction {
    'method'?: (_botflow_v1_HttpMethod);
    'url'?: (string);
    'query'?: ({
        [key: string]: string;
    });
    'headers'?: ({
        [key: string]: string;
    });
    'body'?: (string);
    'timeoutMs'?: (number);
    'responseMappings'?: (_botflow_v1_ResponseMapping)[];
    'errorVariable'?: (string);
}
export interface WebhookAction__Output {
    'method'?: (_botflow_v1_HttpMethod__Output);
    'url'?: (string);
    'query'?: ({
        [key: string]: string;
    });
    'headers'?: ({
        [key: string]: string;
    });
    'body'?: (string);
    'timeoutMs'?: (number);
    'responseMappings'?: (_botflow_v1_ResponseMapping__Output)[];
    'errorVariable'?: (string);
}
