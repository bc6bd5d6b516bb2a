using System;

namespace Odradek
{
    /// <summary>
    /// librdkafka's codes of local errors (<see cref="KafkaException.Code"/> when no broker sent
    /// one), as the core defines them and the C ABI header publishes them (ODRADEK_ERR_*).
    /// </summary>
    public static class LocalErrorCodes
    {
        /// <summary>_INTR: a call interrupted by its CancellationToken.</summary>
        public const int Intr = -163;
        /// <summary>_FAIL: an internal failure of the library or binding.</summary>
        public const int Fail = -196;
        /// <summary>_INVALID_CONFIG: a bad setting; nothing was sent.</summary>
        public const int InvalidConfig = -186;
        /// <summary>_TIMED_OUT: a call did not finish within its timeout.</summary>
        public const int TimedOut = -185;
        /// <summary>_MSG_TIMED_OUT: a record was not delivered within delivery.timeout.ms.</summary>
        public const int MsgTimedOut = -192;
        /// <summary>_QUEUE_FULL: the producer's buffer is full.</summary>
        public const int QueueFull = -184;
        /// <summary>_DESTROY: the client is closed.</summary>
        public const int Destroy = -197;
        /// <summary>_TRANSPORT: the connection failed.</summary>
        public const int Transport = -195;
        /// <summary>_AUTHENTICATION: SASL authentication failed.</summary>
        public const int Authentication = -169;
        /// <summary>_SSL: the TLS handshake or certificate check failed.</summary>
        public const int Ssl = -181;
    }

    /// <summary>Whether, and how, an operation that failed can be tried again (the core's ErrorClass).</summary>
    public enum ErrorClass
    {
        /// <summary>Transient: the same request may succeed later.</summary>
        Retriable = 0,
        /// <summary>This request can never succeed as sent, but the client stays usable.</summary>
        Permanent = 1,
        /// <summary>The current transaction must be aborted; the client stays usable.</summary>
        Abortable = 2,
        /// <summary>The client instance cannot continue.</summary>
        Fatal = 3,
    }

    /// <summary>
    /// Every failure of the library: the Kafka error code for broker errors (else librdkafka's
    /// negative code for the same local condition), the stable name every Odradek binding uses
    /// (<c>UNKNOWN_TOPIC_OR_PARTITION</c>, <c>_INVALID_CONFIG</c>, <c>_TIMED_OUT</c>, ...), and whether
    /// retrying can help.
    /// </summary>
    [Serializable]
    public class KafkaException : Exception
    {
        public KafkaException(int code, string name, ErrorClass errorClass, string message)
            : base(string.IsNullOrEmpty(message) ? name : message)
        {
            Code = code;
            Name = name;
            Class = errorClass;
        }

        /// <summary>Kafka's error code (broker errors), or librdkafka's negative local code.</summary>
        public int Code { get; private set; }

        /// <summary>The stable name: Kafka's for broker codes, librdkafka's <c>_NAME</c> for local ones.</summary>
        public string Name { get; private set; }

        /// <summary>Retriable, permanent, abortable or fatal.</summary>
        public ErrorClass Class { get; private set; }

        /// <summary>True when the same request may succeed later.</summary>
        public bool IsRetriable { get { return Class == ErrorClass.Retriable; } }

        /// <summary>True when this client instance cannot continue (a fenced transactional producer).</summary>
        public bool IsFatal { get { return Class == ErrorClass.Fatal; } }

        /// <summary>True when the open transaction must be aborted (<see cref="Producer.AbortTransaction(TimeSpan)"/>);
        /// the producer stays usable. Such errors are thrown as <see cref="KafkaTxnRequiresAbortException"/>.</summary>
        public bool TxnRequiresAbort { get { return Class == ErrorClass.Abortable; } }

        /// <summary>The topic the error is about; null when not known.</summary>
        public string Topic { get; private set; }

        /// <summary>The partition the error is about; -1 when not known.</summary>
        public int Partition { get; private set; } = -1;

        /// <summary>The broker it came from ("host:port" or "broker N"); null when not known.</summary>
        public string Broker { get; private set; }

        internal void SetContext(string topic, int partition, string broker)
        {
            Topic = topic;
            Partition = partition;
            Broker = broker;
        }

        public override string ToString()
        {
            return string.Format("{0} ({1}, code {2}, {3}): {4}", GetType().FullName, Name, Code, Class, Message);
        }
    }

    /// <summary>A transactional call failed in a way that needs the transaction aborted (a record of
    /// it failed): call <see cref="Producer.AbortTransaction(TimeSpan)"/>, then go on with a new
    /// transaction. Confluent.Kafka's name.</summary>
    [Serializable]
    public class KafkaTxnRequiresAbortException : KafkaException
    {
        public KafkaTxnRequiresAbortException(int code, string name, string message)
            : base(code, name, ErrorClass.Abortable, message)
        {
        }
    }
}
